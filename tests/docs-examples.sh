#!/usr/bin/env bash
# Docs examples: every ```sql block of README.md and docs/*.md is executed.
# Per file, the blocks run in order in ONE sqlite3 session, cwd = project
# root, the extension loaded.  A ```sql block immediately followed by a
# ```text block must print exactly that text (stdout and stderr together);
# a block without one must print no error.
#   tests/docs-examples.sh [EXT] [FILE...]        (EXT default dist/imgpca)
set -u
cd "$(dirname "$0")/.."
ext=${1:-dist/imgpca}; shift || true
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(README.md docs/*.md)
exec /usr/bin/python3 - "$ext" "${files[@]}" <<'PY'
import os, re, subprocess, sys

ext, files = sys.argv[1], sys.argv[2:]
FENCE = re.compile(r"^```(\w*)\s*$")

def blocks(path):
    """[(line, sql, expected_or_None)] from a markdown file."""
    out, lines = [], open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        lang, start = m.group(1), i
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        body = "\n".join(lines[i + 1:j])
        i = j + 1
        if lang != "sql":
            continue
        expected = None
        k = i
        while k < len(lines) and lines[k].strip() == "":
            k += 1
        if k < len(lines) and FENCE.match(lines[k]) and FENCE.match(lines[k]).group(1) == "text":
            e = k + 1
            while e < len(lines) and not lines[e].startswith("```"):
                e += 1
            expected = "\n".join(lines[k + 1:e])
            i = e + 1
        out.append((start + 1, body, expected))
    return out

SHELL_ONLY = re.compile(r"\b(readfile|writefile|edit|fsdir|sha3|sha3_query|shell_add_schema|shell_escape_crnl)\s*\(", re.I)

def norm(s):
    return "\n".join(l.rstrip() for l in s.strip("\n").split("\n")).strip("\n")

fail = total = 0
for path in files:
    if not os.path.exists(path):
        continue
    bl = blocks(path)
    if not bl:
        continue
    script = []
    for n, (line, body, _) in enumerate(bl):
        # examples must work in every client (Python, Node, C), not only in
        # the sqlite3 shell, which alone defines these functions
        m = SHELL_ONLY.search(body)
        if m:
            total += 1; fail += 1
            print(f"FAIL docs {path}:{line}: uses {m.group(1)}(), which only the sqlite3 shell defines")
        script.append(f".print @@block-{n}@@")
        script.append(body)
        script.append(";")
    script.append(f".print @@block-{len(bl)}@@")
    p = subprocess.run(["stdbuf", "-o0", "-e0", "sqlite3", "-batch", "-cmd", f".load {ext}", ":memory:"],
                       input="\n".join(script) + "\n", capture_output=False, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=900)
    out = p.stdout
    for n, (line, body, expected) in enumerate(bl):
        total += 1
        a = out.find(f"@@block-{n}@@\n")
        b = out.find(f"@@block-{n + 1}@@\n")
        got = out[a + len(f"@@block-{n}@@\n"):b] if a >= 0 and b >= 0 else out[a:] if a >= 0 else "(no output: session ended early)"
        bad = None
        if expected is not None and norm(got) != norm(expected):
            bad = f"expected:\n{expected}\ngot:\n{got}"
        elif expected is None and re.search(r"^(Parse error|Runtime error|Error)", got, re.M):
            bad = f"error:\n{got}"
        elif b < 0:
            bad = f"session ended early:\n{out[-2000:]}"
        if bad:
            fail += 1
            print(f"FAIL docs {path}:{line}\n{bad}")
# The README's SQL reference must name every function and table the
# extension registers (tests/api-surface.expected), as `name(`.
if "README.md" in files and os.path.exists("tests/api-surface.expected"):
    readme = open("README.md", encoding="utf-8").read()
    names = sorted({l.split("|")[1] for l in open("tests/api-surface.expected") if "|" in l})
    missing = [n for n in names if f"`{n}(" not in readme and f", {n}(" not in readme]
    total += 1
    if missing:
        fail += 1
        print("FAIL docs README.md: SQL reference misses " + ", ".join(missing))
# ... and its configuration table every setting of imgpca_config().
if "README.md" in files:
    keys = subprocess.run(["sqlite3", "-batch", "-cmd", f".load {ext}", ":memory:",
                           "SELECT key FROM json_each(imgpca_config())"],
                          capture_output=True, text=True).stdout.split()
    missing = [k for k in keys if f"`{k}`" not in readme and f"`{k}`," not in readme]
    total += 1
    if not keys or missing:
        fail += 1
        print("FAIL docs README.md: configuration table misses " + (", ".join(missing) or "(no settings read)"))
print(f"{'ok  ' if not fail else 'FAIL'} docs examples: {total - fail}/{total} checks ({len(names) if 'names' in dir() else 0} names in the reference) of {len(files)} files")
sys.exit(1 if fail else 0)
PY
