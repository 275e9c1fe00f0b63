# Shared set-up of the integration suites (sourced, not run):
#   . tests/integration/lib.sh; it_setup NAME
# cds to the project root and defines:
#   root, work      the project root; a fresh temporary folder (removed at exit)
#   pids, rgw       background pids to kill and an RGW folder to stop at exit
#   ok WHAT / bad WHAT [DETAIL]     count a check (n, fail)
#   expect_eq WHAT GOT WANT / expect_has WHAT TEXT PART / expect_not WHAT TEXT PART
#   it_start_rgw    starts a throwaway RGW under $work/rgw and sources its env
#   it_done         prints the last line "NAME: N/M checks passed ..." and exits
it_cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  [ -n "$rgw" ] && scripts/rgw-stop.sh "$rgw" >/dev/null 2>&1
  rm -rf "$work"
}
it_setup() {
  cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
  root=$PWD
  work=$(mktemp -d "/tmp/imgpca-$1.XXXXXX")
  pids=()
  rgw=
  fail=0; n=0
  trap it_cleanup EXIT
}
ok() { n=$((n+1)); echo "ok   $1"; }
bad() { n=$((n+1)); fail=$((fail+1)); echo "FAIL $1"; shift; [ $# -gt 0 ] && echo "     $*"; }
expect_eq() { if [ "$2" == "$3" ]; then ok "$1"; else bad "$1" "got [$2] expected [$3]"; fi; }
expect_has() { case "$2" in *"$3"*) ok "$1";; *) bad "$1" "[$2] lacks [$3]";; esac; }
expect_not() { case "$2" in *"$3"*) bad "$1" "output contains [$3]";; *) ok "$1";; esac; }
it_start_rgw() {
  rgw=$(scripts/rgw-start.sh "$work/rgw") || { echo "cannot start RGW"; exit 1; }
  # shellcheck disable=SC1091
  . "$rgw/env"
}
