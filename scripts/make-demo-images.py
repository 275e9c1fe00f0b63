#!/usr/bin/python3
"""Generates the imgpca demo image set: deterministic, synthetic fruit-like
shapes on a white background, in a Fruits-360-like layout

    OUT/Training/<Class>/<n>.jpg      OUT/Test/<Class>/<n>.jpg

Every image is 100x100 RGB, a coloured shape (circle, ellipse, crescent,
cluster...) with a per-image random size, position, rotation, shade and a
little texture, saved as JPEG (a few as PNG so both decoders are used).
One deliberately truncated JPEG (Training/Apple/broken.jpg) shows how the
pipeline records undecodable files in its errors table.

The same arguments always give byte-identical files (fixed seeds, Pillow's
encoder with fixed settings).

    make-demo-images.py OUT [--train N] [--test N]
"""
import argparse
import math
import os
import random
import sys

from PIL import Image, ImageDraw, ImageFilter

SIZE = 100

# name: (base RGB, shape, size range as a fraction of the canvas)
CLASSES = {
    "Apple":      ((190, 30, 35), "round", (0.55, 0.75)),
    "Banana":     ((235, 205, 50), "crescent", (0.70, 0.90)),
    "Blueberry":  ((45, 55, 120), "cluster", (0.20, 0.28)),
    "Grape":      ((110, 40, 110), "cluster", (0.24, 0.32)),
    "Kiwi":       ((130, 95, 50), "oval", (0.55, 0.70)),
    "Lemon":      ((245, 225, 70), "oval", (0.55, 0.72)),
    "Lime":       ((90, 170, 40), "round", (0.45, 0.60)),
    "Orange":     ((245, 140, 25), "round", (0.60, 0.80)),
    "Plum":       ((80, 20, 60), "oval", (0.45, 0.60)),
    "Strawberry": ((210, 25, 60), "heart", (0.50, 0.70)),
}


def jitter(rgb, rng, amount=18):
    return tuple(max(0, min(255, c + rng.randint(-amount, amount))) for c in rgb)


def draw_fruit(name, rng):
    base, shape, (smin, smax) = CLASSES[name]
    # Draw at 2x and downsample: smooth edges like photographed fruit.
    big = SIZE * 2
    img = Image.new("RGB", (big, big), (255, 255, 255))
    d = ImageDraw.Draw(img)
    colour = jitter(base, rng)
    s = rng.uniform(smin, smax) * big
    cx = big / 2 + rng.uniform(-0.08, 0.08) * big
    cy = big / 2 + rng.uniform(-0.08, 0.08) * big
    if shape == "round":
        r = s / 2
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
        d.line([cx, cy - r, cx + rng.uniform(-6, 6), cy - r - 14], fill=(90, 60, 30), width=5)
    elif shape == "oval":
        rx, ry = s / 2, s / 2 * rng.uniform(0.65, 0.8)
        d.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=colour)
    elif shape == "crescent":
        r = s / 2
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
        off = r * 0.45
        d.ellipse([cx - r + off, cy - r - off, cx + r + off, cy + r - off], fill=(255, 255, 255))
    elif shape == "cluster":
        r = s / 2
        for row in range(4):
            for col in range(4 - row):
                x = cx + (col - (3 - row) / 2) * r * 1.7
                y = cy - r * 2.2 + row * r * 1.6
                d.ellipse([x - r, y - r, x + r, y + r], fill=jitter(colour, rng, 10))
    elif shape == "heart":
        r = s / 2
        d.polygon([(cx - r, cy - r * 0.4), (cx + r, cy - r * 0.4), (cx, cy + r)], fill=colour)
        d.ellipse([cx - r, cy - r * 0.9, cx + r, cy + r * 0.1], fill=colour)
        d.polygon([(cx - r * 0.6, cy - r * 0.9), (cx, cy - r * 0.55), (cx + r * 0.6, cy - r * 0.9),
                   (cx, cy - r * 1.2)], fill=(40, 140, 40))
        for _ in range(12):  # seeds
            x, y = cx + rng.uniform(-0.6, 0.6) * r, cy + rng.uniform(-0.5, 0.5) * r
            d.ellipse([x - 2, y - 2, x + 2, y + 2], fill=(240, 220, 120))
    # texture: a few darker and lighter speckles inside the shape
    px = img.load()
    for _ in range(300):
        x, y = rng.randrange(big), rng.randrange(big)
        if px[x, y] != (255, 255, 255):
            px[x, y] = jitter(px[x, y], rng, 30)
    img = img.rotate(rng.uniform(0, 360), resample=Image.BILINEAR, fillcolor=(255, 255, 255))
    img = img.filter(ImageFilter.SMOOTH).resize((SIZE, SIZE), Image.BOX)
    return img


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--train", type=int, default=40, help="training images per class")
    ap.add_argument("--test", type=int, default=15, help="test images per class")
    a = ap.parse_args()
    n = 0
    for split, count in (("Training", a.train), ("Test", a.test)):
        for ci, name in enumerate(sorted(CLASSES)):
            folder = os.path.join(a.out, split, name)
            os.makedirs(folder, exist_ok=True)
            for i in range(count):
                rng = random.Random(f"{split}/{name}/{i}")
                img = draw_fruit(name, rng)
                if i % 10 == 9:
                    img.save(os.path.join(folder, f"{i:04d}.png"), optimize=False)
                else:
                    img.save(os.path.join(folder, f"{i:04d}.jpg"), quality=92, optimize=False)
                n += 1
    # One undecodable file: the first 600 bytes of a valid JPEG.
    src = os.path.join(a.out, "Training", "Apple", "0000.jpg")
    with open(src, "rb") as f:
        head = f.read(600)
    with open(os.path.join(a.out, "Training", "Apple", "broken.jpg"), "wb") as f:
        f.write(head)
    print(f"demo images: {n} (+1 broken) in {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
