#!/usr/bin/env bash
# Reference tables of the docs against the module descriptors (ext/*/*_sql.c,
# printed by build/reference from scripts/reference.c):
#  - every "<!-- generated: settings [PREFIX] -->" and "<!-- generated:
#    functions -->" block of README.md and docs/*.md, up to "<!-- end -->",
#    must equal what `build/reference settings [PREFIX]` / `build/reference
#    functions` prints (which also fails when a descriptor's reference rows
#    and its functions disagree);
#  - tests/api-surface.expected must equal `build/reference api`, sorted
#    (tests/api-surface.sh then checks the loaded extension against it);
#  - the functions of README.md's "SQL reference" (names, numbers of
#    arguments from the signatures, "aggregate", "table") must equal the
#    functions and tables of tests/api-surface.expected, and so must the
#    names of the "registers" column of docs/ARCHITECTURE.md's module table.
# --write rewrites the generated blocks and api-surface.expected (make docs-tables).
#   tests/docs-tables.sh GENERATOR [--write]
set -u
cd "$(dirname "$0")/.."
exec /usr/bin/python3 - "$@" <<'PY'
import glob, re, subprocess, sys

gen = sys.argv[1]
write = "--write" in sys.argv[2:]
fail = 0

def generate(*args):
    r = subprocess.run([gen] + list(args), capture_output=True, text=True)
    if r.returncode != 0:
        print(f"FAIL docs-tables: {gen} {' '.join(args)}:\n{r.stderr.rstrip()}")
        sys.exit(1)
    return r.stdout.rstrip("\n").split("\n")

# ---- generated blocks ----------------------------------------------------------
START = re.compile(r"^<!-- generated: (settings|functions)(?: (\S+))? -->$")
for path in ["README.md"] + sorted(glob.glob("docs/*.md")):
    lines = open(path, encoding="utf-8").read().split("\n")
    out, i, changed, blocks = [], 0, False, []
    while i < len(lines):
        m = START.match(lines[i])
        out.append(lines[i])
        i += 1
        if not m:
            continue
        blocks.append(m.group(1))
        j = i
        while j < len(lines) and lines[j] != "<!-- end -->":
            j += 1
        if j == len(lines):
            print(f"FAIL docs-tables: {path}:{i}: no <!-- end --> after the generated block")
            fail = 1
            break
        want = generate(m.group(1), *([m.group(2)] if m.group(2) else []))
        have = lines[i:j]
        if have != want:
            if write:
                changed = True
            else:
                print(f"FAIL docs-tables: {path}:{i}: the {m.group(1)} table differs from the module descriptors (make docs-tables)")
                for h, w in zip(have + [""] * len(want), want + [""] * len(have)):
                    if h != w:
                        print(f"  doc:  {h}\n  code: {w}")
                        break
                fail = 1
        out.extend(want)
        i = j
    if write and changed:
        open(path, "w", encoding="utf-8").write("\n".join(out))
        print(f"docs-tables: rewrote {path}")
    if blocks:
        print(f"{'ok  ' if not fail else '    '} docs-tables: {path}: {', '.join(blocks)} table(s)")
    for need, kind in (("README.md", "settings"), ("README.md", "functions"), ("docs/STORAGE.md", "settings")):
        if path == need and kind not in blocks:
            print(f"FAIL docs-tables: {path} has no <!-- generated: {kind} --> block")
            fail = 1

# ---- tests/api-surface.expected ------------------------------------------------
want = sorted(generate("api"), key=lambda l: l.encode())
have = open("tests/api-surface.expected", encoding="utf-8").read().rstrip("\n").split("\n")
if have != want:
    if write:
        open("tests/api-surface.expected", "w", encoding="utf-8").write("\n".join(want) + "\n")
        print("docs-tables: rewrote tests/api-surface.expected")
    else:
        print("FAIL docs-tables: tests/api-surface.expected differs from the module descriptors (make docs-tables)")
        for x in sorted(set(want) - set(have)): print(f"  descriptors only: {x}")
        for x in sorted(set(have) - set(want)): print(f"  file only:        {x}")
        fail = 1
else:
    print(f"ok   docs-tables: tests/api-surface.expected = the module descriptors ({len(want)} entries)")

# ---- README SQL reference vs tests/api-surface.expected -------------------------
def arities(args):
    """Numbers of arguments a signature like 'a, b [, c [, d]]' allows."""
    args = args.replace("\\|", "|")
    if "..." in args:
        return {-1}
    groups, depth, tok = [0], 0, ""
    for ch in args + ",":
        if ch in "[],":
            if tok.strip():
                while len(groups) <= depth:
                    groups.append(0)
                groups[depth] += 1
            tok = ""
            if ch == "[":
                depth += 1
            elif ch == "]":
                depth -= 1
        else:
            tok += ch
    out, n = set(), 0
    for g in groups:
        n += g
        out.add(n)
    return out

readme = open("README.md", encoding="utf-8").read()
sec = readme.split("\n## SQL reference\n", 1)[1].split("\n## ", 1)[0]
doc_funcs, doc_mods, doc_aggs = set(), set(), set()
for row in sec.split("\n"):
    if not row.startswith("| `"):
        continue
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
    for name, args in re.findall(r"`([a-z0-9_]+)\((.*?)\)`", cells[0]):
        if cells[1] == "table":
            doc_mods.add(name)
            continue
        for n in arities(args):
            doc_funcs.add((name, n))
        if re.match(r"aggregates?\b", cells[2]):
            doc_aggs.add(name)

api_funcs, api_mods, api_aggs = set(), set(), set()
for line in open("tests/api-surface.expected", encoding="utf-8").read().split("\n"):
    f = line.split("|")
    if f[0] == "function":
        api_funcs.add((f[1], int(f[2])))
        if f[3] == "a":
            api_aggs.add(f[1])
    elif f[0] == "module":
        api_mods.add(f[1])

def diff(what, doc, api):
    global fail
    for x in sorted(api - doc, key=str):
        print(f"FAIL docs-tables: README SQL reference lacks {what} {x} (tests/api-surface.expected has it)")
        fail = 1
    for x in sorted(doc - api, key=str):
        print(f"FAIL docs-tables: README SQL reference has {what} {x}, not in tests/api-surface.expected")
        fail = 1

diff("function", doc_funcs, api_funcs)
diff("table", doc_mods, api_mods)
diff("aggregate", doc_aggs, api_aggs)
# ---- docs/ARCHITECTURE.md's module table: its "registers" column -------------------
arch_names = set()
for row in open("docs/ARCHITECTURE.md", encoding="utf-8").read().split("\n"):
    if row.startswith("| `ext/"):
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]
        arch_names |= set(re.findall(r"`([a-z0-9_]+)`", cells[-1]))
api_names = {f for f, _ in api_funcs} | api_mods
for x in sorted(api_names - arch_names):
    print(f"FAIL docs-tables: docs/ARCHITECTURE.md's module table does not list {x}")
    fail = 1
for x in sorted(arch_names - api_names):
    print(f"FAIL docs-tables: docs/ARCHITECTURE.md's module table lists {x}, not a function or table")
    fail = 1

if not fail:
    print(f"ok   docs-tables: README SQL reference = tests/api-surface.expected "
          f"({len(api_funcs)} functions by arity, {len(api_mods)} tables)")
sys.exit(fail)
PY
