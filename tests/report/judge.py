"""Judges one report (tests/report/run.sh): what headless Chromium saw
(DIR/result.json and screenshots from check-report.mjs) against the state
database DIR/state.db and independent computations (NumPy, scikit-learn).

    judge.py DIR SPEC
"""
import base64
import io
import json
import math
import os
import re
import sqlite3
import sys

import numpy as np
from PIL import Image

d, spec = sys.argv[1], sys.argv[2]
fails = []


def check(cond, msg):
    if not cond:
        fails.append(msg)


r = json.load(open(os.path.join(d, 'result.json')))
# a single-machine run has its state database; a sharded run only its published CSV
sharded = not os.path.exists(os.path.join(d, 'state.db'))
db = sqlite3.connect(os.path.join(d, 'state.db') if not sharded else ':memory:')
if sharded:
    import csv
    db.executescript("""CREATE TABLE images(key TEXT PRIMARY KEY, label TEXT, split TEXT, features BLOB);
        CREATE TABLE projections(key TEXT PRIMARY KEY); CREATE TABLE errors(key TEXT);
        CREATE TABLE predictions(key TEXT, predicted TEXT)""")
    with open(os.path.join(d, 'out', 'projection.csv'), newline='') as f:
        rows = list(csv.reader(f))[1:]
    # the report samples every row (read from the parts' points files, not the CSV) in key
    # order, every n-th; the CSV's split column is the row's split
    step = max(1, math.ceil(len(rows) / 10000))
    db.executemany("INSERT INTO images VALUES (?, ?, ?, NULL)", [(r[0], r[1], r[2]) for r in rows])
    csv_sample = sorted(r[0] for r in rows)[::step]
html_path = os.path.join(d, 'out', 'report.html')
html = open(html_path, encoding='utf-8').read()
size = os.path.getsize(html_path)

# --- a page that loads cleanly and asks for nothing ----------------------------
check(r['ready'] == '1', 'page script did not finish (data-ready unset)')
check(not r['exceptions'], f"exceptions: {r['exceptions'][:3]}")
check(not [c for c in r['console'] if c['type'] in ('error', 'warning', 'assert')], f"console: {r['console'][:3]}")
check(not [l for l in r['logs'] if l['level'] in ('error', 'warning')], f"log: {r['logs'][:3]}")
other = [u for u in r['requests'] if u != r['url'] and not u.startswith('data:')]
check(not other, f'network requests: {other[:5]}')
check(not re.search(r'(src|href)\s*=\s*["\']?(https?:|//)', html), 'an http(s) reference in the page')
check(len(r['sections']) == 6, f"sections: {r['sections']}")

# --- points: the even sample of the projections, in key order --------------------
if sharded:
    rows = db.execute('SELECT key, label, split FROM images').fetchall()
    n = len(rows)
    lab = dict((k, l) for k, l, _ in rows)
    split = dict((k, s) for k, _, s in rows)
    sample = [(k, lab[k], split[k]) for k in csv_sample]
else:
    rows = db.execute('SELECT p.key, i.label, i.split FROM projections AS p JOIN images AS i USING (key) ORDER BY p.key').fetchall()
    n = len(rows)
    step = max(1, math.ceil(n / 10000))
    sample = rows[::step]
check(r['points'] == len(sample), f"points {r['points']}, expected {len(sample)} of {n}")
check(r['drawn'] == len(sample), f"drawn {r['drawn']}, expected {len(sample)}")
check(r['data']['keys'] == [k for k, _, _ in sample], 'point keys differ from the sampled projections')
labels = sorted({l for (l,) in db.execute('SELECT DISTINCT label FROM images WHERE label IS NOT NULL')})
check(r['data']['labels'] == labels, 'labels differ from the database')
check(r['legend'] == len(labels), f"legend entries {r['legend']}, expected {len(labels)}")
dblabel = {k: l for k, l, _ in rows}
check(all(r['data']['labels'][li] == dblabel[k] for k, li in zip(r['data']['keys'], r['data']['li'])),
      'a point carries the wrong label')
if sharded:  # about 1,500 rows over all shards carry one (every n-th row of each shard)
    check(0 < r['data']['thumbs'] <= min(len(sample), 1500 + 2 * 2), f"thumbnails {r['data']['thumbs']} of {len(sample)} points")
else:
    thumbs_want = len(range(0, len(sample), max(1, math.ceil(len(sample) / 1500))))
    check(r['data']['thumbs'] == thumbs_want, f"thumbnails {r['data']['thumbs']}, expected {thumbs_want}")

# --- summary numbers --------------------------------------------------------------
imgs, = db.execute('SELECT count(*) FROM images').fetchone()
errs, = db.execute('SELECT count(*) FROM errors').fetchone()
tested, correct = db.execute('SELECT count(*), sum(p.predicted = i.label) FROM predictions AS p JOIN images AS i USING (key)').fetchone()
cards = r['summary']
check(f'{imgs:,}' in cards, f'summary lacks the image count {imgs}: {cards!r}')
if tested:
    check(f'{100 * correct / tested:.2f} %' in cards, f'summary lacks the accuracy {100 * correct / tested:.2f}: {cards!r}')
check(re.fullmatch(r'PC1 \(\d+\.\d %\)', r['axis'][0]) is not None and r['axis'][1].startswith('PC2 ('), f"axis labels {r['axis']}")
check(r['errorRows'] == min(errs, 1000) or sharded, f"error rows {r['errorRows']}, expected {errs}")

# --- hover shows the label (and thumbnail) of the point under the mouse -----------
check(len(r['hover']) >= 2, 'no hover result')
for h in r['hover']:
    check(h.get('pos') is not None, f"point {h['i']} not drawn")
    if h.get('pos') is None:
        continue
    text = h.get('text', '')
    check(h['key'] in text and h['label'] == dblabel.get(h['key']),
          f"hover {h['i']} ({h['key']}, label {dblabel.get(h['key'])!r}): tooltip {text!r}")
    check(text.startswith(h['label']), f"hover {h['i']}: label not shown first: {text!r}")
    check(h['img'] == h['hasThumb'], f"hover {h['i']}: thumbnail shown {h['img']}, point has one {h['hasThumb']}")
check(any(h.get('img') for h in r['hover']) or r['data']['thumbs'] == 0, 'no hovered point showed a thumbnail')
check(r['tooltipAfterLeave'] == '', 'tooltip stays after the mouse left the points')

# --- legend click cycle, search, sorting ------------------------------------------
first = sum(1 for k, li in zip(r['data']['keys'], r['data']['li']) if li == 0)
check(r['afterClick1']['cls'] == 'hl' and r['afterClick1']['drawn'] == len(sample), f"click 1: {r['afterClick1']}")
check(r['afterClick2']['cls'] == 'off' and r['afterClick2']['drawn'] == len(sample) - first, f"click 2: {r['afterClick2']}, class 0 has {first}")
check(r['afterClick3']['cls'] == '' and r['afterClick3']['drawn'] == len(sample), f"click 3: {r['afterClick3']}")
q = r['search']['query'].lower()
want = [l for l in labels if q in l.lower()]
check(r['search']['highlighted'] == want and r['search']['visibleLegend'] == len(want), f"search {r['search']}, expected {want}")
if tested:
    accl = sorted({l for (l,) in db.execute('SELECT DISTINCT i.label FROM predictions JOIN images AS i USING (key)')})
    check(r['sort'] and r['sort']['asc'] == sorted(accl), 'accuracy table not sorted by label ascending')
    check(r['sort'] and r['sort']['desc'] == list(reversed(r['sort']['asc'])), 'accuracy table not sorted by label descending')
    wrong, = db.execute('SELECT count(*) FROM predictions AS p JOIN images AS i USING (key) WHERE p.predicted IS NOT i.label').fetchone()
    check((r['confusionImages'] > 0) == (wrong > 0), f"confusion thumbnails {r['confusionImages']} with {wrong} errors")


# --- screenshots: the palette's colours are really painted ---------------------------
def parse(c):
    return np.array([int(v) for v in re.findall(r'\d+', c)[:3]], float) if c.startswith('rgb') else \
        np.array([int(c[i:i + 2], 16) for i in (1, 3, 5)], float)


def present(img, col, tol=4):
    """pixels whose colour is the class colour at alpha 0.85 over white."""
    want = 0.85 * col + 0.15 * 255
    return int((np.abs(img - want).max(axis=2) <= tol).sum())


a = np.asarray(Image.open(os.path.join(d, 'scatter.png')).convert('RGB'), float)
b = np.asarray(Image.open(os.path.join(d, 'scatter-hl.png')).convert('RGB'), float)
check(a.shape[0] > 400 and a.shape[1] > 600, f'scatter screenshot size {a.shape}')
check(a.std() > 10, f'scatter screenshot nearly uniform (std {a.std():.1f})')
cols = [parse(c) for c in r['colours']]
check(len(cols) == len(labels), 'one colour per label')
# distinct colours: the closest pair is far apart (CIE76 distance in sRGB-ish terms)
if len(cols) > 1:
    m = min(np.abs(cols[i] - cols[j]).sum() for i in range(len(cols)) for j in range(i))
    check(m >= 20, f'two labels share nearly the same colour (L1 {m})')
seen = [present(a, c) for c in cols]
share = sum(1 for s in seen if s >= 3) / len(cols)
check(share >= (0.8 if len(cols) <= 12 else 0.5), f'only {share:.0%} of the label colours are visible in the scatter')
# after the first legend click only class 0 keeps its colour
after = [present(b, c) for c in cols]
check(after[0] >= 3, 'highlighted class not painted in its colour')
others_before, others_after = sum(seen[1:]), sum(after[1:])
check(others_after <= 0.05 * others_before + 5, f'other classes still coloured after highlighting ({others_after} vs {others_before} px)')

# --- eigen-images (pixel specs) vs scikit-learn ----------------------------------------
m = re.fullmatch(r'pixels:size=(\d+)x(\d+)', spec)
if m:
    w, h = int(m.group(1)), int(m.group(2))
    data = json.loads(re.search(r'const DATA = (.*?);\n', html, re.S).group(1))
    e = data['eigen']
    check(e is not None and e['w'] == w and e['h'] == h and e['channels'] == 3, f"eigen header {e and {k: e[k] for k in ('w', 'h', 'channels')}}")
    check(r['eigenImages'] == 1 + len(e['components']), f"eigen images in the page {r['eigenImages']}")
    X = np.array([np.frombuffer(f, '<f4') for (f,) in db.execute(
        "SELECT features FROM images WHERE split = 'train' AND features IS NOT NULL ORDER BY key")], float)

    def png(uri):
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(',', 1)[1]))), float)
    mean = png(e['mean'])
    check(mean.shape == (h, w, 3), f'mean image shape {mean.shape}')
    check(np.abs(mean - np.round(255 * X.mean(0)).reshape(h, w, 3)).max() <= 1, 'mean image differs from the features mean')
    from sklearn.decomposition import PCA
    ref = PCA(n_components=4, svd_solver='full').fit(X)
    for j in range(4):
        img = png(e['components'][j][2]).reshape(-1)
        v = ref.components_[j]
        want = np.clip(np.round(127.5 + 127.5 * v / np.abs(v).max()), 0, 255)
        corr = abs(np.corrcoef(img, want)[0, 1])
        check(corr > 0.98, f'eigen-image {j + 1}: correlation {corr:.3f} with scikit-learn')
        check(abs(e['components'][j][1] - ref.explained_variance_ratio_[j]) < 1e-3, f'eigen-image {j + 1}: ratio')
else:
    check(r['eigenImages'] == 0, 'eigen-images for a non-pixel spec')

# --- size: at most 5 MB for 10k images -------------------------------------------
check(size <= 5e6 * max(1, n / 10000), f'report is {size} bytes for {n} images')

if fails:
    print('\n'.join(fails[:30]))
    print(f'FAILED {len(fails)} checks')
    sys.exit(1)
print(f"{n} images, {r['points']} points, {len(labels)} labels, {size / 1e6:.2f} MB, "
      f"{len(r['requests'])} requests (page + data: URIs), hover/legend/search/sort/screenshots ok")
