"""Cross-check of s3_list / s3_fetch on the local backend against Python's
glob (recursive) and file reads: same files, sizes, labels and bytes."""
import glob
import os
import sqlite3
import sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data", "fruits360")
root = os.path.normpath(root)
conn = sqlite3.connect(":memory:")
conn.enable_load_extension(True)
conn.load_extension(os.environ["IMGPCA_EXT"])

fails = 0
checked = 0
for pat in ["Test/**/*.jpg", "Test/[AB]*/r_*.jpg", "Test/*/1?_100.jpg", "Test/Pear*/*", "Training/**/r_[0-3]*.jpg"]:
    full = os.path.join(root, pat)
    expect = sorted(p for p in glob.glob(full, recursive=True) if os.path.isfile(p))
    rows = conn.execute("SELECT url, key, parent, size FROM s3_list(?)", (full,)).fetchall()
    got = sorted(r[0] for r in rows)
    if got != expect:
        fails += 1
        print(f"FAIL {pat}: {len(got)} rows, python glob {len(expect)}")
        continue
    lit = full[:min([i for i in (full.find("*"), full.find("?"), full.find("[")) if i >= 0])]
    base = lit[:lit.rfind("/")]
    for url, key, parent, size in rows:
        checked += 1
        if key != os.path.relpath(url, base) or parent != os.path.basename(os.path.dirname(url)) \
                or size != os.path.getsize(url):
            fails += 1
            print(f"FAIL {pat}: row {url} key={key} parent={parent} size={size}")
            break

# content column and s3_fetch ranges == file bytes
rows = conn.execute("SELECT url, content FROM s3_list(?)", (os.path.join(root, "Test/Apple*/*.jpg"),)).fetchall()
for url, content in rows:
    data = open(url, "rb").read()
    if content != data:
        fails += 1
        print(f"FAIL content {url}")
    off, n = 17, 101
    part = conn.execute("SELECT s3_fetch(?, ?, ?)", (url, off, n)).fetchone()[0]
    if part != data[off:off + n]:
        fails += 1
        print(f"FAIL range {url}")

# file:// URLs round-trip through s3_put / s3_fetch with odd names
tmp = "/tmp/imgpca-py-storage/a b+c&d=é"
payload = bytes(range(256)) * 3
n = conn.execute("SELECT s3_put(?, ?)", ("file://" + tmp.replace(" ", "%20") + "/x.bin", payload)).fetchone()[0]
back = open(tmp + "/x.bin", "rb").read()
if n != len(payload) or back != payload:
    fails += 1
    print("FAIL file:// put")
conn.execute("SELECT s3_delete(?)", (tmp + "/x.bin",))
os.rmdir(tmp)

# trailing '**' and a folder without glob (recursive listing, docs/STORAGE.md)
# list the same files as python's recursive glob, with keys relative to the folder
n_recursive = 0
for folder, pats in [("Test", ["Test/**", "Test", "Test/", "Test/**/*"]),
                     ("Test/Kiwi 1", ["Test/Kiwi 1/**", "Test/Kiwi 1", "Test/Kiwi 1/**/*"])]:
    base = os.path.join(root, folder)
    expect = sorted(p for p in glob.glob(os.path.join(glob.escape(base), "**"), recursive=True) if os.path.isfile(p))
    for pat in pats:
        full = os.path.join(root, pat)  # "Test/" keeps its trailing slash
        listed = conn.execute("SELECT url, key FROM s3_list(?)", (full,)).fetchall()
        got = sorted(os.path.normpath(r[0]) for r in listed)
        keys = sorted(r[1] for r in listed)
        if not expect or got != expect or keys != sorted(os.path.relpath(p, base) for p in expect):
            fails += 1
            print(f"FAIL {pat}: {len(got)} rows, python glob {len(expect)}")
        n_recursive += len(listed)

if fails:
    sys.exit(1)
print(f"storage cross-check: 5 globs == python glob, {checked} rows, 7 recursive folder listings {n_recursive} rows, {len(rows)} contents + ranges identical")
