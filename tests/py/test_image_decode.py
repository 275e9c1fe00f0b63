"""Cross-checks of the image decoder against Pillow, PngSuite and EXIF photos.

- native-size decode of a sample of Fruits-360 JPEGs (and libjpeg-turbo test
  images) equals Pillow's RGB exactly (same libjpeg-turbo, same defaults);
- img_pixels(img, 32, 32) equals an exact area-average (NumPy, float64) within
  1 level, and Pillow's BOX filter (100->32) within a mean absolute difference
  of 2.0 levels (Pillow's BOX gives each source pixel weight 0 or 1 by where its
  centre falls, ours weighs it by its exact fractional coverage, so single
  pixels at sharp edges can differ by ~50); at an integer ratio (100->50) the
  two agree within 1 level everywhere;
- every valid PngSuite file equals its JSON pixels composited on white (within 1;
  16-bit values are scaled by 1/257), every corrupt x*.png is a clean error;
- EXIF: each photos/Landscape_N / Portrait_N (N=2..8) decodes upright: downscaled
  it matches orientation 1 (mean absolute difference < 3 levels).
"""
import glob, json, os, sqlite3, sys
import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import DATA as D, check, connect, area_ref, exit_if_failed  # noqa: E402

con = connect()


def info(b):
    return json.loads(con.execute('select img_info(?)', (b,)).fetchone()[0])


def pixels(b, w=None, h=None):
    if w is None:
        i = info(b)
        if 'error' in i:
            raise ValueError(i['error'])
        raw = con.execute('select img_pixels(?)', (b,)).fetchone()[0]
        ow, oh = (i['height'], i['width']) if i['orientation'] >= 5 else (i['width'], i['height'])
        return np.frombuffer(raw, np.uint8).reshape(oh, ow, 3)
    raw = con.execute('select img_pixels(?,?,?)', (b, w, h)).fetchone()[0]
    return np.frombuffer(raw, np.uint8).reshape(h, w, 3)


# 1. Pillow parity at native size --------------------------------------------
fruits = sorted(glob.glob(os.path.join(D, 'fruits360', '*', '*', '*.jpg')))
sample = fruits[::37]
n_exact = 0
for f in sample:
    b = open(f, 'rb').read()
    ours = pixels(b)
    ref = np.asarray(Image.open(f).convert('RGB'))
    if ours.shape == ref.shape and np.array_equal(ours, ref):
        n_exact += 1
    else:
        check(False, f'pillow parity {f}')
extra = [os.path.join(D, 'images-edge', 'jpeg-testimages', x) for x in ('testorig.jpg', 'testimgari.jpg', 'testimgint.jpg')]
extra += sorted(glob.glob(os.path.join(D, 'images-edge', 'jpeg-bugs', '8bit', 'testorig_*.jpg')))
for f in extra:
    b = open(f, 'rb').read()
    ours = pixels(b)
    ref = np.asarray(Image.open(f).convert('RGB'))
    check(ours.shape == ref.shape and np.array_equal(ours, ref), f'pillow parity {os.path.basename(f)}')

# 2. resize -------------------------------------------------------------------
max_ref = 0
pil_mean = []
pil_max = 0
for f in sample[:60]:
    b = open(f, 'rb').read()
    ours = pixels(b, 32, 32).astype(int)
    full = np.asarray(Image.open(f).convert('RGB'))
    ref = np.rint(area_ref(full, 32, 32)).astype(int)
    max_ref = max(max_ref, int(np.abs(ours - ref).max()))
    pil = np.asarray(Image.open(f).convert('RGB').resize((32, 32), Image.BOX)).astype(int)
    pil_mean.append(np.abs(ours - pil).mean())
    pil_max = max(pil_max, int(np.abs(ours - pil).max()))
    # integer ratio: identical to Pillow BOX up to rounding
    o50 = pixels(b, 50, 50).astype(int)
    p50 = np.asarray(Image.open(f).convert('RGB').resize((50, 50), Image.BOX)).astype(int)
    check(np.abs(o50 - p50).max() <= 1, f'50x50 vs pillow box {f}')
check(max_ref <= 1, f'area reference max diff {max_ref}')
check(np.mean(pil_mean) <= 2.0, f'pillow box mean {np.mean(pil_mean)} max {pil_max}')

# 3. PngSuite -------------------------------------------------------------------
ps = os.path.join(D, 'images-edge', 'pngsuite')
n_png = n_bad = 0
for f in sorted(glob.glob(os.path.join(ps, 'png', '*.png'))):
    name = os.path.basename(f)[:-4]
    b = open(f, 'rb').read()
    if name.startswith('x'):
        r = info(b)
        check('error' in r and list(r)[-1] == 'error', f'corrupt {name} gave {r}')
        try:
            con.execute('select img_features(?)', (b,)).fetchone()
            check(False, f'corrupt {name} decoded')
        except sqlite3.OperationalError as e:
            check(str(e).startswith(('img_features: cannot decode png: ', 'img_features: unsupported image format')),
                  f'{name}: {e}')
        n_bad += 1
        continue
    j = os.path.join(ps, 'json', name + '.json')
    if not os.path.exists(j):
        continue
    exp = np.array(json.load(open(j)), dtype=np.float64)
    if '16' in name[-2:]:
        exp = np.rint(exp / 257)
    ours = pixels(b).astype(np.float64)
    exp = exp.reshape(ours.shape[0], ours.shape[1], 4)
    a = exp[..., 3:4]
    comp = np.floor((exp[..., :3] * a + 255 * (255 - a) + 127) / 255)
    d = np.abs(ours - comp).max()
    check(d <= 1, f'pngsuite {name}: max diff {d}')
    n_png += 1

# 4. EXIF orientation -------------------------------------------------------------
ph = os.path.join(D, 'images-edge', 'photos')
exif_max = 0.0
for kind in ('Landscape', 'Portrait'):
    base = open(os.path.join(ph, f'{kind}_1.jpg'), 'rb').read()
    bi = info(base)
    w, h = bi['width'] // 20, bi['height'] // 20
    ref = pixels(base, w, h).astype(int)
    for n in range(2, 9):
        b = open(os.path.join(ph, f'{kind}_{n}.jpg'), 'rb').read()
        check(info(b)['orientation'] == n, f'{kind}_{n} orientation')
        o = pixels(b, w, h).astype(int)
        m = np.abs(o - ref).mean()
        exif_max = max(exif_max, m)
        check(m < 3, f'{kind}_{n} not upright: mean diff {m}')
        # features go through the same path
        v = np.frombuffer(con.execute("select img_features(?, 'pixels:size=16x16')", (b,)).fetchone()[0], '<f4')
        check(v.shape == (768,), 'exif features dims')

exit_if_failed()
print(f'pillow exact {n_exact}/{len(sample)} fruits + {len(extra)} test images; resize vs exact area max {max_ref}, '
      f'vs Pillow BOX mean {np.mean(pil_mean):.3f} max {pil_max}; pngsuite {n_png} valid ok, {n_bad} corrupt errors; '
      f'exif max mean diff {exif_max:.2f}')
