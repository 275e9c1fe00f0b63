"""Checks the static SVG plots (tests/report/run.sh): each renders with
rsvg-convert into a non-blank PNG; no two text elements overlap and none
leaves the canvas (boxes from the text positions, anchors and font sizes,
widths measured with the DejaVu Sans metrics of Pillow); the scatter plot
has tick values on both axes, "% of variance" axis titles and a legend of at
most 13 entries whose colours are painted.

    svgcheck.py scatter.svg scree.svg
"""
import io
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
from PIL import Image, ImageFont

NS = '{http://www.w3.org/2000/svg}'
FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf'
fails = []


def check(cond, msg):
    if not cond:
        fails.append(msg)


def text_boxes(root):
    base = float(root.get('font-size', 12))
    W, H = float(root.get('width')), float(root.get('height'))
    boxes = []
    for t in root.iter(NS + 'text'):
        s = ''.join(t.itertext())
        fs = float(t.get('font-size', base))
        font = ImageFont.truetype(FONT, max(1, round(fs))) if os.path.exists(FONT) else None
        w = font.getlength(s) if font else 0.6 * fs * len(s)
        x, y = float(t.get('x', 0)), float(t.get('y', 0))
        a = t.get('text-anchor', 'start')
        x0 = x - (w / 2 if a == 'middle' else w if a == 'end' else 0)
        box = [x0, y - 0.8 * fs, x0 + w, y + 0.2 * fs]
        m = re.match(r'rotate\(\s*(-?90)\s+([\d.]+)\s+([\d.]+)\)', t.get('transform', ''))
        if m:   # rotated about (cx, cy) by -90: width becomes height
            cx, cy = float(m.group(2)), float(m.group(3))
            box = [cx - 0.8 * fs, cy - (box[2] - cx), cx + 0.2 * fs, cy + (cx - box[0])]
        boxes.append((s, box))
    return boxes, W, H


for path in sys.argv[1:]:
    name = os.path.basename(path)
    root = ET.parse(path).getroot()
    r = subprocess.run(['rsvg-convert', path], capture_output=True)
    check(r.returncode == 0 and r.stdout[:4] == b'\x89PNG', f'{name}: rsvg-convert failed: {r.stderr[:300]!r}')
    img = np.asarray(Image.open(io.BytesIO(r.stdout)).convert('RGB'), float) if r.returncode == 0 else None
    if img is not None:
        check(img.std() > 10, f'{name}: rendering nearly blank')
    boxes, W, H = text_boxes(root)
    for i, (s, b) in enumerate(boxes):
        check(b[0] >= -0.5 and b[1] >= -0.5 and b[2] <= W + 0.5 and b[3] <= H + 0.5, f'{name}: text {s!r} leaves the canvas {b}')
        for s2, b2 in boxes[:i]:
            ov = min(b[2], b2[2]) - max(b[0], b2[0]), min(b[3], b2[3]) - max(b[1], b2[1])
            check(not (ov[0] > 0.5 and ov[1] > 0.5), f'{name}: text {s!r} overlaps {s2!r}')
    texts = [s for s, _ in boxes]
    if 'scatter' in name:
        check(any(re.fullmatch(r'PC1 \(\d+\.\d % of variance\)', s) for s in texts), f'{name}: no PC1 axis title with % of variance')
        check(any(re.fullmatch(r'PC2 \(\d+\.\d % of variance\)', s) for s in texts), f'{name}: no PC2 axis title with % of variance')
        xt = [(s, b) for s, b in boxes if re.fullmatch(r'-?\d+(\.\d+)?', s) and b[1] > 535]
        yt = [(s, b) for s, b in boxes if re.fullmatch(r'-?\d+(\.\d+)?', s) and b[2] < 66]
        check(len(xt) >= 3 and len(yt) >= 3, f'{name}: tick values x {len(xt)}, y {len(yt)}')
        # tick values increase along the axis and are evenly spaced
        for ticks, k, sign in ((xt, 0, 1), (yt, 1, -1)):
            vals = [float(s) for s, b in sorted(ticks, key=lambda t: sign * t[1][k])]
            check(vals == sorted(vals), f'{name}: tick values out of order {vals}')
            steps = np.diff(vals)
            check(len(steps) == 0 or np.allclose(steps, steps[0]), f'{name}: ticks unevenly spaced {vals}')
        legend = [c for c in root.iter(NS + 'circle') if c.get('r') == '5']
        check(1 <= len(legend) <= 13, f'{name}: {len(legend)} legend entries')
        if img is not None:
            for c in legend:
                cx, cy = int(float(c.get('cx'))), int(float(c.get('cy')))
                col = np.array([int(c.get('fill')[i:i + 2], 16) for i in (1, 3, 5)], float)
                check(np.abs(img[cy, cx] - col).max() <= 8, f"{name}: legend colour {c.get('fill')} not painted at {cx},{cy}")
    if 'scree' in name:
        check(any('% of variance' in s for s in texts), f'{name}: no % of variance axis title')
        check(sum(1 for s in texts if re.fullmatch(r'\d+ %', s)) >= 5, f'{name}: no percent ticks')

if fails:
    print('\n'.join(fails[:30]))
    print(f'FAILED {len(fails)} checks')
    sys.exit(1)
print(f'{len(sys.argv) - 1} SVGs render with rsvg-convert, no overlapping text, ticks and legend ok')
