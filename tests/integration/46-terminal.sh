#!/usr/bin/env bash
# Untrusted text never reaches the terminal raw (hardening review round 3,
# item 11): folder and file names holding ESC/OSC sequences and other
# control characters go through the pipeline's "most confused" line,
# sql/similar.sql's rows, sql/classify.sql, error messages and the refusal of
# a state database naming a foreign object; every byte printed must be free
# of C0 controls other than LF (the names appear escaped, \x1b).
set -u
. "$(dirname "$0")/lib.sh"
it_setup it46
data=$root/../shared/data/fruits360
evil=$'Apple\e]0;pwned\a\e[2J'
mkdir -p "$work/src/Training/$evil" "$work/src/Training/Banana" "$work/src/Test/$evil"
ls "$data/Training/Apple Braeburn 1" | head -12 | while read -r f; do cp "$data/Training/Apple Braeburn 1/$f" "$work/src/Training/$evil/a$f"; done
ls "$data/Training/Banana 1" | head -12 | while read -r f; do cp "$data/Training/Banana 1/$f" "$work/src/Training/Banana/$f"; done
# test images of bananas filed under the evil apple label: confused on purpose
ls "$data/Test/Banana 1" | head -4 | while read -r f; do cp "$data/Test/Banana 1/$f" "$work/src/Test/$evil/b$'\e'[31m$f"; done
printf 'not an image' > "$work/src/Training/Banana/bad"$'\e'"]8;;x"$'\a'".jpg"

controls() { LC_ALL=C tr -d '\n' < "$1" | LC_ALL=C grep -c '[[:cntrl:]]'; }

sqlite3 -batch -cmd ".load $root/dist/imgpca" -cmd ".parameter set \$source '$work/src'" \
  -cmd ".parameter set \$out '$work/out'" -cmd '.parameter set $k 4' "$work/state.db" \
  < sql/pipeline.sql > "$work/pipe.log" 2>&1
expect_has "pipeline: a most-confused line naming the label" "$(cat "$work/pipe.log")" 'most confused: Apple\x1b]0;pwned\x07\x1b[2J -> Banana'
expect_eq "pipeline: no control character printed" "$(controls "$work/pipe.log")" 0

cp "$(ls "$work/src/Test/$evil/"* | head -1)" "$work/q.jpg"
cp "$(ls "$work/src/Training/$evil/"* | head -1)" "$work/q2.jpg"
(cd "$root" && sqlite3 -batch -cmd ".load $root/dist/imgpca" \
   -cmd ".parameter set \$image '$work/q.jpg'" "$work/state.db" < sql/similar.sql) \
  > "$work/similar.log" 2>&1
expect_has "similar.sql: rows with the escaped label" "$(cat "$work/similar.log")" '|Apple\x1b]0;pwned\x07\x1b[2J|'
expect_eq "similar.sql: no control character printed" "$(controls "$work/similar.log")" 0

(cd "$root" && sqlite3 -batch -cmd ".load $root/dist/imgpca" \
   -cmd ".parameter set \$image '$work/q2.jpg'" "$work/state.db" < sql/classify.sql) \
  > "$work/classify.log" 2>&1
expect_has "classify.sql: the escaped key" "$(cat "$work/classify.log")" 'Apple\x1b]0;pwned'
expect_eq "classify.sql: no control character printed" "$(controls "$work/classify.log")" 0

# an error message naming a path
sqlite3 -batch -cmd ".load $root/dist/imgpca" :memory: "SELECT s3_fetch('$work/no"$'\e'"[8mthing')" > "$work/err.log" 2>&1
expect_has "error message: the escaped path" "$(cat "$work/err.log")" 'no\x1b[8mthing'
expect_eq "error message: no control character printed" "$(controls "$work/err.log")" 0

# a foreign object in the state database: the refusal names it, escaped
cp "$work/state.db" "$work/evil.db"
sqlite3 "$work/evil.db" "CREATE TABLE \"t$(printf '\033')]0;owned$(printf '\007')\"(x)"
sqlite3 -batch -cmd ".load $root/dist/imgpca" -cmd ".parameter set \$source '$work/src'" \
  -cmd ".parameter set \$out '$work/out2'" "$work/evil.db" < sql/pipeline.sql > "$work/evil.log" 2>&1
expect_has "refusal: names the table, escaped" "$(cat "$work/evil.log")" "unexpected table 't\\x1b]0;owned\\x07'"
expect_eq "refusal: no control character printed" "$(controls "$work/evil.log")" 0
[ "$fail" = 0 ] || exit 1
echo "terminal: $((n-fail))/$n checks passed"
