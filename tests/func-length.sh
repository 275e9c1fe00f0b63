#!/usr/bin/env bash
# Function length rule of docs/ARCHITECTURE.md ("Function length"): no C
# function of ext/ is longer than LIMIT lines (default 120), counted from the
# line of its opening brace to the line of its closing brace.  Comments,
# string and character literals and preprocessor lines are blanked before
# braces are counted, so a brace in any of them does not count; a function is
# a top-level `{` that follows a `)` (multi-line signatures and trailing
# __attribute__((...)) included), which leaves out struct, enum and array
# initialisers.  Prints every function over the limit and exits 1 if any.
#   tests/func-length.sh [-n LIMIT] [FILE.c ...]   (files default ext/**/*.c)
#   tests/func-length.sh -l [FILE.c ...]           every function, longest first
set -u
cd "$(dirname "$0")/.."
exec /usr/bin/python3 - "$@" <<'PY'
import glob, re, signal, sys

signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # -l | head

args = sys.argv[1:]
limit, listing = 120, False
while args and args[0].startswith("-"):
    opt = args.pop(0)
    if opt == "-n" and args:
        limit = int(args.pop(0))
    elif opt == "-l":
        listing = True
    else:
        sys.exit("usage: tests/func-length.sh [-n LIMIT] [-l] [FILE.c ...]")
files = args or sorted(glob.glob("ext/**/*.c", recursive=True))


def blank(src):
    """The source with comments, literals and preprocessor lines replaced by
    spaces; newlines are kept so that offsets map to the same lines."""
    out, i, n = [], 0, len(src)
    line_start = True  # only whitespace since the last newline
    while i < n:
        c = src[i]
        if c == "\n":
            out.append(c)
            line_start = True
            i += 1
            continue
        if line_start and c == "#":
            # a directive, with its backslash continuations
            while i < n and src[i] != "\n":
                if src[i] == "\\" and i + 1 < n and src[i + 1] == "\n":
                    out.append(" \n")
                    i += 2
                    continue
                out.append(" ")
                i += 1
            continue
        if not c.isspace():
            line_start = False
        if src.startswith("/*", i):
            j = src.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        elif src.startswith("//", i):
            j = src.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and src[j] != c and src[j] != "\n":
                j += 2 if src[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(re.sub(r"[^\n]", " ", src[i:j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def name_before(code, close):
    """Name of the function whose parameter list ends at code[close] == ')',
    skipping trailing __attribute__((...)) groups; None if there is none."""
    while True:
        depth, k = 0, close
        while k >= 0:
            if code[k] == ")":
                depth += 1
            elif code[k] == "(":
                depth -= 1
                if depth == 0:
                    break
            k -= 1
        m = re.search(r"([A-Za-z_]\w*)\s*$", code[:k])
        if not m:
            # a function returning a function pointer: T (*name(args))(args)
            m = re.search(r"\(\s*\*\s*([A-Za-z_]\w*)\s*\([^;{}]*\)\s*$", code[:k])
            return m.group(1) if m else None
        if m.group(1) != "__attribute__":
            return m.group(1)
        close = len(code[: m.start()].rstrip()) - 1
        if close < 0 or code[close] != ")":
            return None


def functions(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        code = blank(f.read())
    depth, found = 0, []
    for m in re.finditer(r"[{}]", code):
        if m.group() == "{":
            if depth == 0:
                before = code[: m.start()].rstrip()
                name = name_before(before, len(before) - 1) if before.endswith(")") else None
                start = (code.count("\n", 0, m.start()) + 1, name)
            depth += 1
        else:
            depth -= 1
            if depth < 0:
                sys.exit(f"func-length: {path}: unbalanced '}}' at line {code.count(chr(10), 0, m.start()) + 1}")
            if depth == 0 and start[1]:
                end = code.count("\n", 0, m.start()) + 1
                found.append((end - start[0] + 1, start[1], path, start[0]))
    if depth:
        sys.exit(f"func-length: {path}: unbalanced braces (a '{{' is never closed)")
    return found


every = [fn for path in files for fn in functions(path)]
if listing:
    for length, name, path, line in sorted(every, key=lambda t: (-t[0], t[2], t[3])):
        print(f"{length:5d}  {name}  {path}:{line}")
    sys.exit(0)
long = sorted((fn for fn in every if fn[0] > limit), key=lambda t: (t[2], t[3]))
for length, name, path, line in long:
    print(f"func-length: {path}:{line}: {name} is {length} lines (limit {limit}): split it into static functions")
if long:
    sys.exit(1)
print(f"ok   func-length ({len(every)} functions in {len(files)} files, none over {limit} lines)")
PY
