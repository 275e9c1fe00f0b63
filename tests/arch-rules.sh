#!/usr/bin/env bash
# The dependency rules of docs/ARCHITECTURE.md ("Dependency rules"), checked
# on the sources (#include lines, comments stripped) and on the objects of
# build/obj (nm: which module defines each symbol an object needs):
#  1. only ext/imgpca.c and ext/sqlglue/sqlglue.h include <sqlite3ext.h> or
#     <sqlite3.h>; SQLITE_EXTENSION_INIT1/2 only in ext/imgpca.c, INIT3 only in
#     sqlglue.h; no core object refers to a sqlite3* symbol;
#  2. cores depend downwards only: each core's includes and undefined symbols
#     stay within the modules listed below (and what those depend on);
#  3. glue (*_sql.[ch], ext/imgpca/, ext/sqlglue/) includes sqlglue.h, core
#     headers, the glue header of its own folder and those of the glue
#     services listed in GLUE_DEPS below (the connection's storage, vector
#     arguments, the model cache), and needs no other symbol of another
#     folder's glue (but for sqlite3_api and what sqlglue.h declares);
#  4. ext/s3/ is reached only by ext/storage/ (includes and symbols);
#  5. ext/imgpca.c includes only glue headers and include/imgpca.h, and
#     defines no SQL function;
#  6. libcurl, CBLAS and LAPACKE are reached through ext/common/lazylib.c
#     (function tables filled by dlopen): no object has an undefined curl_*,
#     cblas_*, LAPACKE_* or openblas_* symbol;
#  7. naming ("Naming" in docs/ARCHITECTURE.md): a core defines only global
#     symbols with its module's prefix; a glue file defines NAME_func,
#     NAME_step, NAME_final, NAME_value, NAME_inverse or NAME_module for a
#     NAME of tests/api-surface.expected, imgpca_* functions and data (the
#     module descriptor imgpca_module_<folder>), and the vector glue's
#     argument functions fvec_arg, fvec_arg_free, fvec_result;
#  8. a module's private header <module>_int.h ("Naming": what the module's
#     own files share) is included only by the files of its folder.
#   tests/arch-rules.sh [OBJDIR]        (OBJDIR default build/obj)
set -u
cd "$(dirname "$0")/.."
exec /usr/bin/python3 - "${1:-build/obj}" <<'PY'
import glob, os, re, subprocess, sys

objdir = sys.argv[1]
# Direct dependencies of each core (docs/ARCHITECTURE.md, "Dependency rules").
CORE_DEPS = {
    "common": set(),
    "config": {"common"},
    "s3": {"common", "config"},
    "storage": {"common", "config", "s3"},
    "vector": {"common"}, "pca": {"common"}, "knn": {"common"}, "csv": {"common"},
    "shard": {"common"}, "report": {"common"}, "cnn": {"common"},
    "image": {"common", "cnn", "vector"},
    "fetch": {"common", "cnn", "image", "storage"},
}
GLUE_ONLY = {"imgpca", "sqlglue"}  # folders without a core
# Glue services a glue folder may use (declared in the service's *_sql.h,
# docs/ARCHITECTURE.md "Dependency rules"): storage = imgpca_conn_storage,
# vector = fvec_arg/fvec_result, cnn = imgpca_conn_spec_models.
GLUE_DEPS = {"image": {"vector", "cnn"}, "pca": {"vector"}, "fetch": {"storage", "cnn"},
             "csv": {"storage"}, "cnn": {"storage"}}

def closure(m):
    out, todo = set(), [m]
    while todo:
        for d in CORE_DEPS.get(todo.pop(), ()):
            if d not in out:
                out.add(d)
                todo.append(d)
    return out

def is_glue(path):
    parts = path.split("/")
    return len(parts) == 2 or parts[1] in GLUE_ONLY or re.search(r"_sql\.[ch]$", path) is not None

def module(path):  # ext/<m>/x.c -> m; ext/imgpca.c -> ""
    parts = path.split("/")
    return parts[1] if len(parts) == 3 else ""

def strip_comments(path):
    return subprocess.run(["gcc", "-fpreprocessed", "-dD", "-E", "-P", "-x", "c", path],
                          capture_output=True, text=True, check=True).stdout

def resolve(src, inc):
    for base in (os.path.dirname(src), "ext", "build/gen", "include"):
        p = os.path.normpath(os.path.join(base, inc))
        if os.path.exists(p):
            return p
    return None

fail = 0
def bad(msg):
    global fail
    print("FAIL arch-rules: " + msg)
    fail = 1

files = sorted(glob.glob("ext/*.[ch]") + glob.glob("ext/*/*.[ch]"))
nfiles = 0
for f in files:
    nfiles += 1
    text = strip_comments(f)
    m, glue = module(f), is_glue(f)
    for sysinc in re.findall(r'^\s*#\s*include\s*<([^>]+)>', text, re.M):
        if sysinc in ("sqlite3ext.h", "sqlite3.h") and f not in ("ext/imgpca.c", "ext/sqlglue/sqlglue.h"):
            bad(f"{f} includes <{sysinc}> (only ext/imgpca.c and ext/sqlglue/sqlglue.h may)")
    for tok in re.findall(r"\bSQLITE_EXTENSION_INIT([123])\b", text):
        if tok in "12" and f != "ext/imgpca.c":
            bad(f"{f} uses SQLITE_EXTENSION_INIT{tok} (only ext/imgpca.c may)")
        if tok == "3" and f != "ext/sqlglue/sqlglue.h":
            bad(f"{f} uses SQLITE_EXTENSION_INIT3 (glue gets it through sqlglue.h)")
    for inc in re.findall(r'^\s*#\s*include\s*"([^"]+)"', text, re.M):
        p = resolve(f, inc)
        if p is None:
            bad(f"{f}: #include \"{inc}\" not found")
            continue
        if not p.startswith("ext/"):
            if f == "ext/imgpca.c" and p != "include/imgpca.h":
                bad(f"{f} includes {p} (the entry point includes only glue headers and imgpca.h)")
            continue
        im, iglue = module(p), is_glue(p)
        if p.endswith("_int.h") and im != m:
            bad(f"{f} includes {p}, the private header of ext/{im}/")
        if f == "ext/imgpca.c":
            if not iglue:
                bad(f"{f} includes the core header {p}")
            continue
        if not glue:
            if iglue:
                bad(f"core {f} includes the glue header {p}")
            elif im != m and im not in CORE_DEPS.get(m, set()):
                bad(f"core {f} ({m}) includes {p}: {m} may use only {sorted(CORE_DEPS.get(m, set()))}")
        elif iglue and im != m and p != "ext/sqlglue/sqlglue.h" and im not in GLUE_DEPS.get(m, ()):
            bad(f"glue {f} includes {p}, the glue header of another folder")
        if im == "s3" and m not in ("s3", "storage"):
            bad(f"{f} includes {p}: ext/s3/ is reached only through ext/storage/")
    if f == "ext/imgpca.c" and re.search(r"\bsqlite3_context\s*\*\s*\w+\s*,\s*int\s+\w+\s*,\s*sqlite3_value", text):
        bad(f"{f} defines an SQL function (they belong in the glue files)")

# ---- symbols ---------------------------------------------------------------------------
objs = sorted(glob.glob(f"{objdir}/*.o") + glob.glob(f"{objdir}/*/*.o"))
objs = [o for o in objs if not o.startswith(f"{objdir}/gen/")]
if not objs:
    bad(f"no objects in {objdir} (make all first)")
    sys.exit(1)
def src_of(o):
    return "ext/" + o[len(objdir) + 1:-2] + ".c"
definer = {}
undef = {}
for o in objs:
    out = subprocess.run(["nm", o], capture_output=True, text=True, check=True).stdout
    u = []
    for line in out.split("\n"):
        f = line.split()
        if len(f) == 3 and f[1] in "TDBRCVW":
            definer[f[2]] = src_of(o)
        elif len(f) == 2 and f[0] == "U":
            u.append(f[1])
    undef[src_of(o)] = u
# sqlite3_api is defined by the entry point (SQLITE_EXTENSION_INIT1) for every
# glue file; a function declared in sqlglue.h is shared glue wherever it is
# implemented (imgpca_conn_spec_models: ext/cnn/cnn_sql.c).
sqlglue_h = strip_comments("ext/sqlglue/sqlglue.h")
def sqlglue_declares(s):
    return re.search(r"\b" + re.escape(s) + r"\s*\(", sqlglue_h) is not None
nsym = 0
for f, syms in undef.items():
    m, glue = module(f), is_glue(f)
    for s in syms:
        nsym += 1
        if re.match(r"(curl_|cblas_|LAPACKE_|openblas_)", s):
            bad(f"{f} calls {s} directly (libcurl and BLAS go through ext/common/lazylib.c)")
        if not glue and s.startswith("sqlite3"):
            bad(f"core {f} refers to {s}")
        d = definer.get(s)
        if d is None:
            continue
        dm, dglue = module(d), is_glue(d)
        if dm == "s3" and m not in ("s3", "storage"):
            bad(f"{f} calls {s} of {d}: ext/s3/ is reached only through ext/storage/")
        if f == "ext/imgpca.c":
            continue
        if not glue:
            if dglue:
                bad(f"core {f} calls {s} of the glue file {d}")
            elif dm != m and dm not in closure(m):
                bad(f"core {f} ({m}) calls {s} of {d}: {m} may use only {sorted(closure(m))}")
        elif dglue and dm != m and dm != "sqlglue" and s != "sqlite3_api" and not sqlglue_declares(s) \
                and dm not in GLUE_DEPS.get(m, ()):
            bad(f"glue {f} calls {s} of the glue file {d} of another folder")

# ---- naming ------------------------------------------------------------------------------
PREFIX = {"common": ("imgpca_",), "config": ("imgpca_",), "storage": ("imgpca_", "local_"),
          "fetch": ("imgpca_",), "report": ("imgpca_",), "image": ("img_",), "cnn": ("cnn_",),
          "pca": ("pca_",), "vector": ("fvec_",), "knn": ("knn_",), "csv": ("csv_",),
          "shard": ("shard_",), "s3": ("s3_",)}
sql_names = {l.split("|")[1] for l in open("tests/api-surface.expected") if "|" in l}
VECTOR_GLUE_EXTRA = {"fvec_arg", "fvec_arg_free", "fvec_result"}
for o in objs:
    f = src_of(o)
    out = subprocess.run(["nm", "--defined-only", o], capture_output=True, text=True, check=True).stdout
    for line in out.split("\n"):
        x = line.split()
        if len(x) != 3 or x[1] not in "TDBRCVW":
            continue
        sym = x[2]
        if f == "ext/imgpca.c":
            continue
        if not is_glue(f):
            if not sym.startswith(PREFIX.get(module(f), ("?",))):
                bad(f"core {f} defines {sym}: {module(f)} names start with {' or '.join(PREFIX.get(module(f), ('?',)))}")
            continue
        m2 = re.match(r"(.+)_(func|step|final|value|inverse|module)$", sym)
        if m2 and m2.group(1) in sql_names:
            continue
        if sym.startswith("imgpca_") or (f == "ext/vector/vector_sql.c" and sym in VECTOR_GLUE_EXTRA):
            continue
        bad(f"glue {f} defines {sym}: expected <SQL name>_func/_step/_final/_module or imgpca_*")

if not fail:
    print(f"ok   arch-rules: {nfiles} sources, {len(objs)} objects, {nsym} undefined symbols checked")
sys.exit(fail)
PY
