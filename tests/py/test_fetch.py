"""Cross-checks of s3_fetch_many on local files.

* bytes and sizes equal Python's own file reads; missing files, folders and
  FIFOs are error rows (FIFO: no hang), in input order;
* features equal img_features of the same bytes, and hist features of PNG
  copies (lossless: Pillow and libpng see the same pixels) equal an
  independent NumPy HSV histogram over Pillow's pixels, exactly;
* the whole result (url, size, features, error) is byte-identical for
  imgpca.threads = 1, 2, 4 and for a process pinned to one CPU
  (taskset -c 0, default thread count), run in the stock sqlite3 shell.
"""
import hashlib
import json
import os
import shutil
import subprocess
import tempfile

import numpy as np
from PIL import Image

import testlib
from testlib import DATA, check, connect

train = os.path.join(DATA, 'fruits360', 'Training')
files = []
for cls in sorted(os.listdir(train))[:12]:
    d = os.path.join(train, cls)
    files += [os.path.join(d, f) for f in sorted(os.listdir(d))[:25]]

tmp = tempfile.mkdtemp(prefix='imgpca-pyfetch.')
try:
    fifo = os.path.join(tmp, 'fifo')
    os.mkfifo(fifo)
    os.mkdir(os.path.join(tmp, 'folder'))
    link = os.path.join(tmp, 'link.jpg')
    os.symlink(os.path.abspath(files[0]), link)
    urls = files[:40] + [os.path.join(tmp, 'missing.jpg'), fifo, os.path.join(tmp, 'folder'), link] + files[40:]

    con = connect()
    con.execute("SELECT imgpca_config('imgpca.threads', 2)")
    rows = con.execute('SELECT rowid, url, size, content, features, error FROM s3_fetch_many(?, ?)',
                       (json.dumps(urls), 'hist:bins=8,sqrt')).fetchall()
    check(len(rows) == len(urls), f'{len(rows)} rows for {len(urls)} URLs')
    for i, (rowid, url, size, content, feat, err) in enumerate(rows):
        check(rowid == i and url == urls[i], f'row {i}: order ({rowid}, {url})')
        if os.path.isfile(url) and not url.endswith('fifo'):
            data = open(url, 'rb').read()
            check(err is None, f'{url}: unexpected error {err}')
            check(size == len(data) and content == data, f'{url}: bytes differ from the file')
            ref = con.execute("SELECT img_features(?, 'hist:bins=8,sqrt')", (data,)).fetchone()[0]
            check(feat == ref, f'{url}: features differ from img_features')
        else:
            check(err is not None and err.startswith('s3_fetch_many: ') and url in err,
                  f'{url}: error row expected, got {err!r}')
            check(size is None and content is None and feat is None, f'{url}: NULL columns expected')
    check('is not a regular file' in rows[41][5] and 'is not a regular file' in rows[42][5], 'fifo/folder errors')

    # hist features vs NumPy over Pillow pixels (PNG: lossless, identical pixels)
    pngdir = os.path.join(tmp, 'png')
    os.mkdir(pngdir)
    pngs = []
    for k, f in enumerate(files[::25]):
        p = os.path.join(pngdir, f'{k:03d}.png')
        Image.open(f).convert('RGB').save(p)
        pngs.append(p)
    got = con.execute("SELECT url, features FROM s3_fetch_many(?, 'hist:bins=4,white=off')",
                      (json.dumps(pngs),)).fetchall()
    for url, feat in got:
        # HSV bins in exact integer arithmetic (docs/IMAGES.md), NumPy over Pillow's pixels
        a = np.asarray(Image.open(url).convert('RGB'), dtype=np.int64).reshape(-1, 3)
        r, g, b = a[:, 0], a[:, 1], a[:, 2]
        mx, mn = a.max(1), a.min(1)
        d = mx - mn
        nb = 4
        vi = np.minimum(mx * nb // 255, nb - 1)
        si = np.where(mx > 0, np.minimum(d * nb // np.maximum(mx, 1), nb - 1), 0)
        num = np.where(mx == r, g - b, np.where(mx == g, 2 * d + (b - r), 4 * d + (r - g)))
        num = np.where(num < 0, num + 6 * d, num)
        hi = np.where(d > 0, np.minimum(num * nb // np.maximum(6 * d, 1), nb - 1), 0)
        cnt = np.bincount((hi * nb * nb + si * nb + vi), minlength=nb ** 3)
        ref = (cnt / len(a)).astype(np.float32)
        mine = np.frombuffer(feat, dtype='<f4')
        check(mine.shape == (64,) and np.array_equal(mine, ref),
              f'{url}: hist differs from NumPy (max {np.abs(mine - ref).max():.3g})')

    # identical output for 1, 2, 4 threads and taskset -c 0, in the sqlite3 shell
    lst = os.path.join(tmp, 'urls.json')
    json.dump(urls * 3, open(lst, 'w'))
    sql = ("SELECT rowid, url, size, hex(features), error FROM s3_fetch_many(readfile('%s'), "
           "'hist:bins=8,sqrt;pixels:size=12x12,color=grey,norm=standard');" % lst)
    outs = {}
    for t in ('1', '2', '4', 'taskset'):
        cmd = ['sqlite3', '-batch', '-cmd', '.load ' + os.environ['IMGPCA_EXT'], ':memory:']
        pre = [] if t == 'taskset' else ["SELECT imgpca_config('imgpca.threads', %s);" % t]
        if t == 'taskset':
            cmd = ['taskset', '-c', '0'] + cmd
            pre = ["SELECT 'threads', imgpca_config('imgpca.threads');"]
        p = subprocess.run(cmd, input='\n'.join(pre + [sql]), capture_output=True, text=True, timeout=300)
        check(p.returncode == 0, f'{t}: exit {p.returncode}: {p.stderr[:300]}')
        body = p.stdout.split('\n', 1)[1]
        outs[t] = hashlib.sha256(body.encode()).hexdigest()
        check(body.count('\n') == 3 * len(urls), f'{t}: {body.count(chr(10))} lines')
    check(len(set(outs.values())) == 1, f'outputs differ across thread counts: {outs}')
finally:
    shutil.rmtree(tmp, ignore_errors=True)

testlib.exit_if_failed()
print(f'{len(rows)} rows, {len(got)} PNG histograms vs NumPy, 4 thread settings identical')
