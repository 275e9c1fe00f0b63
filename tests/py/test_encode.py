"""Cross-checks of img_encode / img_thumbnail / imgpca_base64 against
Pillow, NumPy and Python's base64: what the extension writes, Pillow reads
back (PNG exactly, JPEG within JPEG error), thumbnails are the area average
of the upright image, base64 equals the standard library's."""
import base64
import glob
import io
import os
import random

import numpy as np
from PIL import Image, ImageOps

from testlib import DATA, area_ref, check, connect, exit_if_failed

con = connect()
rng = np.random.default_rng(7)

# PNG: lossless for every channel count, Pillow decodes the same bytes
for ch, mode in ((1, 'L'), (2, 'LA'), (3, 'RGB'), (4, 'RGBA')):
    for w, h in ((1, 1), (7, 3), (64, 33)):
        a = rng.integers(0, 256, size=(h, w, ch), dtype=np.uint8)
        png, = con.execute("SELECT img_encode(?, ?, ?, ?, 'png')", (a.tobytes(), w, h, ch)).fetchone()
        im = Image.open(io.BytesIO(png))
        check(im.format == 'PNG' and im.mode == mode and im.size == (w, h), f'png {ch}ch {w}x{h}: {im.format} {im.mode} {im.size}')
        b = np.asarray(im).reshape(h, w, ch)
        check(np.array_equal(a, b), f'png {ch}ch {w}x{h}: pixels differ')

# JPEG: Pillow decodes it; a smooth image comes back within JPEG error
y, x = np.mgrid[0:48, 0:80]
smooth = np.stack([x * 3, y * 5, (x + y) * 2], axis=-1).clip(0, 255).astype(np.uint8)
for q in (50, 90):
    jpg, = con.execute("SELECT img_encode(?, 80, 48, 3, 'jpeg', ?)", (smooth.tobytes(), q)).fetchone()
    im = Image.open(io.BytesIO(jpg))
    check(im.format == 'JPEG' and im.size == (80, 48) and im.mode == 'RGB', f'jpeg q{q}: {im.format} {im.size} {im.mode}')
    err = np.abs(np.asarray(im, dtype=float) - smooth).mean()
    check(err < (4 if q == 90 else 8), f'jpeg q{q}: mean abs error {err:.2f}')
grey, = con.execute("SELECT img_encode(?, 80, 48, 1, 'jpeg', 90)", (smooth[:, :, 0].tobytes(),)).fetchone()
im = Image.open(io.BytesIO(grey))
check(im.mode == 'L', f'jpeg grey mode {im.mode}')
check(np.abs(np.asarray(im, dtype=float) - smooth[:, :, 0]).mean() < 4, 'jpeg grey error')

# thumbnails of real files: Pillow reads them; size fits the box with the
# aspect ratio of the upright image; content = area average of the upright
# image (PNG thumbnails compared exactly up to rounding)
files = sorted(glob.glob(os.path.join(DATA, 'fruits360', 'Test', '*', '*.jpg')))
random.Random(3).shuffle(files)
files = files[:12] + [os.path.join(DATA, 'images-edge', 'photos', f) for f in ('Portrait_6.jpg', 'Landscape_3.jpg')]
for f in files:
    if not os.path.exists(f):
        continue
    data = open(f, 'rb').read()
    up = ImageOps.exif_transpose(Image.open(f)).convert('RGB')
    W, H = up.size
    for size in (40, 64):
        png, = con.execute("SELECT img_thumbnail(?, ?, 'png')", (data, size)).fetchone()
        t = Image.open(io.BytesIO(png))
        s = size / max(W, H)
        want = (W, H) if s >= 1 else (max(1, round(W * s)), max(1, round(H * s)))
        check(t.size == want, f'{os.path.basename(f)} thumb {size}: {t.size}, expected {want}')
        if t.size == want and W * H <= 200 * 200:
            # 100x100 -> 64: decoded at full size, so the exact area average;
            # -> 40: JPEG DCT scaling to 50x50 first (a different low-pass
            # filter on edges), so only the average error is tight
            ref = area_ref(np.asarray(up), want[0], want[1])
            d = np.abs(np.asarray(t, dtype=float) - ref)
            lim = (6, 1.5) if size == 64 else (80, 2.5)
            check(d.max() <= lim[0] and d.mean() < lim[1],
                  f'{os.path.basename(f)} thumb {size}: max {d.max():.1f} mean {d.mean():.2f} vs area average')
        jpg, = con.execute('SELECT img_thumbnail(?, ?)', (data, size)).fetchone()
        check(Image.open(io.BytesIO(jpg)).format == 'JPEG', 'thumbnail default format is jpeg')

# base64 = Python's, for every length mod 3
for n in list(range(0, 20)) + [1000, 4097]:
    b = bytes(rng.integers(0, 256, size=n, dtype=np.uint8))
    got, = con.execute('SELECT imgpca_base64(?)', (b,)).fetchone()
    check(got == base64.b64encode(b).decode(), f'base64 of {n} bytes')

# a data: URI built in SQL decodes to the same image
uri, = con.execute("SELECT 'data:image/png;base64,' || imgpca_base64(img_encode(?, 7, 3, 3, 'png'))",
                   (bytes(range(63)),)).fetchone()
im = Image.open(io.BytesIO(base64.b64decode(uri.split(',', 1)[1])))
check(np.asarray(im).tobytes() == bytes(range(63)), 'data uri roundtrip')

exit_if_failed()
print('encode: PNG/JPEG/thumbnails/base64 match Pillow and the standard library')
