"""Cross-checks of the cnn: feature kind (ext/cnn) on the pretrained models
of ../shared/models (MobileNetV2 classifier + embedding, MobileNetV1
embedding extractor).

* top-1 class of each photo (.bmp converted to PNG with Pillow, .jpg as is)
  from cnn:...,output=probabilities equals the top-1 of the models' README
  table (parsed from README.md, computed there with OpenCV DNN);
* embeddings and probabilities equal ONNX Runtime's (onnxruntime-node,
  installed by tests/cnn/ort-install.sh under build/) within 1e-4 relative
  L2 (||a - b|| / ||b||), both models, every output.  Both tools get the same
  tensor: 224x224 PNGs made with Pillow, so resize=stretch leaves the pixels
  unchanged and ORT gets those pixels as float32 NCHW 0..255;
* the preprocessing, through an Identity model (python3-onnx) whose output is
  the input tensor: resize=stretch against Pillow's BILINEAR resize of each
  channel as a float image (mode 'F': no rounding), shrinking and
  enlarging, max |difference| <= 0.51 (0.5: the engine may round to 8 bits
  first; Pillow 'F' does not) and mean <= 0.26; same size = pixels
  exactly; resize=crop against torchvision's Resize(round(s/0.875)) +
  CenterCrop(s) on the PIL image (max <= 1.01, mean <= 0.5: torchvision's
  PIL path rounds to 8 bits, and the engine may too);
  norm=imagenet and norm=tf against their formulas applied to norm=none
  (<= 1e-5 absolute);
* img_model_info: input/output names and shapes, Conv count and parameter
  count (README);
* composition with hist: gives the concatenation; s3_fetch_many gives the
  same bytes as img_features for 1, 2 and 4 worker threads;
* a truncated model is an error naming img_features and the model.
"""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

import testlib
from testlib import ROOT, check, connect

MODELS = os.path.abspath(os.path.join(ROOT, '..', 'shared', 'models'))
V2 = os.path.join(MODELS, 'mobilenet_v2_1.0_224.onnx')
V1 = os.path.join(MODELS, 'mobilenet_v1_1.0_224_embedding.onnx')
PHOTOS = os.path.join(MODELS, 'photos')


def vec(blob):
    return np.frombuffer(blob, dtype='<f4')


def rel_l2(a, b):
    return float(np.linalg.norm(a.astype(np.float64) - b) / max(np.linalg.norm(b.astype(np.float64)), 1e-30))


def readme_top1():
    """photo -> top-1 class index, from the README's MobileNetV2 table."""
    out = {}
    for line in open(os.path.join(MODELS, 'README.md'), encoding='utf-8'):
        m = re.match(r'\|\s*([\w.]+\.(?:bmp|jpg))\s*\([^)]*\)\s*\|\s*\**(\d+)\s', line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


con = connect()
tmp = tempfile.mkdtemp(prefix='imgpca-pycnn.')
try:
    labels = [l.rstrip('\n') for l in open(os.path.join(MODELS, 'imagenet_labels.txt'))]
    expect = readme_top1()
    check(len(expect) >= 9, f'README table: {len(expect)} photos parsed')

    # ---- (a) top-1 labels -------------------------------------------------
    def photo_bytes(name):
        p = os.path.join(PHOTOS, name)
        if name.endswith('.bmp'):
            q = os.path.join(tmp, name[:-4] + '.png')
            Image.open(p).convert('RGB').save(q)
            p = q
        return open(p, 'rb').read()

    spec_p = f'cnn:model={V2},output=probabilities'
    for name, want in sorted(expect.items()):
        prob = vec(con.execute('SELECT img_features(?, ?)', (photo_bytes(name), spec_p)).fetchone()[0])
        check(prob.shape == (1001,), f'{name}: {prob.shape[0]} probabilities')
        if prob.shape != (1001,):
            continue
        top = int(np.argmax(prob))
        check(top == want, f'{name}: top-1 {top} {labels[top]!r} ({prob[top]:.4f}), README {want} {labels[want]!r}')
        check(abs(float(prob.sum()) - 1) < 1e-4, f'{name}: probabilities sum to {prob.sum()}')

    # ---- (b) against ONNX Runtime ------------------------------------------
    nm = subprocess.run([os.path.join(ROOT, 'tests', 'cnn', 'ort-install.sh')], capture_output=True, text=True)
    check(nm.returncode == 0, f'onnxruntime-node install failed: {nm.stderr[-500:]}')
    if nm.returncode == 0:
        names = sorted(os.listdir(PHOTOS))
        names = [n for n in names if n.endswith(('.bmp', '.jpg'))]
        blobs, pngs = [], {}
        for n in names:
            img = Image.open(os.path.join(PHOTOS, n)).convert('RGB').resize((224, 224), Image.BILINEAR)
            q = os.path.join(tmp, 'ort_' + n.rsplit('.', 1)[0] + '.png')
            img.save(q)
            pngs[n] = open(q, 'rb').read()
            b = os.path.join(tmp, n + '.f32')
            np.ascontiguousarray(np.asarray(Image.open(q), dtype=np.float32).transpose(2, 0, 1)).tofile(b)
            blobs.append(b)
        worst = {}
        for model, outputs in ((V2, ('embedding', 'probabilities')), (V1, ('embedding',))):
            od = os.path.join(tmp, 'ort_' + os.path.basename(model))
            os.mkdir(od)
            r = subprocess.run(['node', os.path.join(ROOT, 'tests', 'cnn', 'ort_run.js'), model, od, '1,3,224,224']
                               + blobs, capture_output=True, text=True, env=dict(os.environ, NODE_PATH=nm.stdout.strip()))
            check(r.returncode == 0, f'ort_run.js {model}: {r.stderr[-800:]}')
            if r.returncode != 0:
                continue
            for out in outputs:
                spec = f'cnn:model={model},output={out}'
                for n, b in zip(names, blobs):
                    ref = np.fromfile(os.path.join(od, os.path.basename(b) + '.' + out + '.f32'), dtype='<f4')
                    got = vec(con.execute('SELECT img_features(?, ?)', (pngs[n], spec)).fetchone()[0])
                    if got.shape != ref.shape:
                        check(False, f'{os.path.basename(model)} {out} {n}: {got.shape} values, ORT {ref.shape}')
                        continue
                    e = rel_l2(got, ref)
                    key = f'{os.path.basename(model)}:{out}'
                    worst[key] = max(worst.get(key, 0), e)
                    check(e <= 1e-4, f'{key} {n}: relative L2 {e:.3g} vs onnxruntime > 1e-4')
            # the default output is "embedding" when the model has one
            dflt = vec(con.execute('SELECT img_features(?, ?)', (pngs[names[0]], f'cnn:model={model}')).fetchone()[0])
            emb = vec(con.execute('SELECT img_features(?, ?)', (pngs[names[0]], f'cnn:model={model},output=embedding'))
                      .fetchone()[0])
            check(np.array_equal(dflt, emb), f'{os.path.basename(model)}: default output is not the embedding')
        ort_summary = ' '.join(f'{k} {v:.2g}' for k, v in sorted(worst.items()))

    # ---- (c) preprocessing through an Identity model ---------------------------
    import onnx
    from onnx import TensorProto, helper

    def identity_model(w, h):
        p = os.path.join(tmp, f'identity_{w}x{h}.onnx')
        g = helper.make_graph([helper.make_node('Identity', ['input'], ['output'])], 'identity',
                              [helper.make_tensor_value_info('input', TensorProto.FLOAT, [1, 3, h, w])],
                              [helper.make_tensor_value_info('output', TensorProto.FLOAT, [1, 3, h, w])])
        onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)]), p)
        return p

    rng = np.random.default_rng(20)

    def smooth_image(w, h):
        """Random but not pure noise (noise makes every resize look wrong)."""
        small = rng.integers(0, 256, (max(h // 4, 2), max(w // 4, 2), 3), dtype=np.uint8)
        big = np.asarray(Image.fromarray(small).resize((w, h), Image.BICUBIC))
        return np.clip(big.astype(np.int16) + rng.integers(-20, 21, big.shape), 0, 255).astype(np.uint8)

    def png(a):
        q = os.path.join(tmp, 'pre.png')
        Image.fromarray(a).save(q)
        return open(q, 'rb').read()

    def pillow_f(a, w, h):
        return np.stack([np.asarray(Image.fromarray(a[:, :, c].astype(np.float32), 'F').resize((w, h), Image.BILINEAR))
                         for c in range(3)])

    pre_worst = 0.0
    for (iw, ih), (w, h) in (((97, 61), (32, 24)), ((300, 200), (224, 224)), ((40, 30), (64, 48)),
                             ((50, 70), (131, 90)), ((64, 48), (64, 48))):
        a = smooth_image(iw, ih)
        got = vec(con.execute('SELECT img_features(?, ?)', (png(a), f'cnn:model={identity_model(w, h)}')).fetchone()[0])
        if got.size != 3 * w * h:
            check(False, f'identity {iw}x{ih}->{w}x{h}: {got.size} values')
            continue
        got = got.reshape(3, h, w)
        if (iw, ih) == (w, h):
            check(np.array_equal(got, a.transpose(2, 0, 1).astype(np.float32)),
                  f'stretch {w}x{h} -> same size: pixels changed')
            continue
        ref = pillow_f(a, w, h)
        d = np.abs(got - ref)
        pre_worst = max(pre_worst, float(d.max()))
        check(d.max() <= 0.51 and d.mean() <= 0.26,
              f'stretch {iw}x{ih}->{w}x{h} vs Pillow BILINEAR: max |diff| {d.max():.3f}, mean {d.mean():.3f}')

    # crop = torchvision's eval transform
    import torchvision.transforms as T
    from torchvision.transforms import InterpolationMode
    for (iw, ih), s in (((300, 200), 56), ((120, 160), 64), ((64, 64), 32)):
        a = smooth_image(iw, ih)
        got = vec(con.execute('SELECT img_features(?, ?)',
                              (png(a), f'cnn:model={identity_model(s, s)},resize=crop')).fetchone()[0])
        tf = T.Compose([T.Resize(round(s / 0.875), interpolation=InterpolationMode.BILINEAR), T.CenterCrop(s)])
        ref = np.asarray(tf(Image.fromarray(a)), dtype=np.float32).transpose(2, 0, 1)
        if got.size != ref.size:
            check(False, f'crop {iw}x{ih}->{s}: {got.size} values, expected {ref.size}')
            continue
        d = np.abs(got.reshape(ref.shape) - ref)
        check(d.max() <= 1.01 and d.mean() <= 0.5,
              f'crop {iw}x{ih}->{s}x{s} vs torchvision Resize+CenterCrop: max |diff| {d.max():.3f}, mean {d.mean():.3f}')

    # norm formulas
    a = smooth_image(80, 60)
    m = identity_model(40, 30)
    base = vec(con.execute('SELECT img_features(?, ?)', (png(a), f'cnn:model={m},norm=none')).fetchone()[0])
    base = base.reshape(3, 30, 40).astype(np.float64)
    mean = np.array([0.485, 0.456, 0.406])[:, None, None]
    std = np.array([0.229, 0.224, 0.225])[:, None, None]
    for norm, ref in (('imagenet', (base / 255 - mean) / std), ('tf', base / 127.5 - 1)):
        got = vec(con.execute('SELECT img_features(?, ?)', (png(a), f'cnn:model={m},norm={norm}')).fetchone()[0])
        check(got.size == ref.size and np.abs(got.reshape(ref.shape) - ref).max() <= 1e-5,
              f'norm={norm}: differs from its formula')

    # ---- img_model_info --------------------------------------------------------
    info = json.loads(con.execute('SELECT img_model_info(?)', (V2,)).fetchone()[0])
    ins = {i.get('name'): i.get('shape') for i in info.get('inputs', [])}
    outs = {o.get('name'): o.get('shape') for o in info.get('outputs', [])}
    check(ins == {'input': [1, 3, 224, 224]}, f'img_model_info inputs: {info.get("inputs")}')
    check(outs == {'probabilities': [1, 1001], 'embedding': [1, 1280]},
          f'img_model_info outputs (names and shapes, README): {info.get("outputs")}')
    check(info.get('parameters') == 3489101, f'img_model_info parameters {info.get("parameters")}, README 3489101')
    ops = info.get('operators', {})
    check(ops.get('Conv') == 53 and ops.get('Softmax') == 1, f'img_model_info operators (README: 53 Conv): {ops}')
    check(json.dumps(info.get('feature', info)).count('1280') >= 1, f'img_model_info: what the spec picks: {info}')

    # ---- composition, s3_fetch_many -------------------------------------------
    one = pngs[names[0]] if nm.returncode == 0 else photo_bytes('cat.bmp')
    cnn = con.execute('SELECT img_features(?, ?)', (one, f'cnn:model={V2}')).fetchone()[0]
    hist = con.execute("SELECT img_features(?, 'hist:bins=8')", (one,)).fetchone()[0]
    both = con.execute('SELECT img_features(?, ?)', (one, f'cnn:model={V2};hist:bins=8')).fetchone()[0]
    check(both == cnn + hist, 'cnn:...;hist:bins=8 is not the concatenation of the two')
    # s3_fetch_many: same bytes as img_features, for 1, 2 and 4 worker threads
    files = []
    for n in sorted(os.listdir(PHOTOS)):
        if n.endswith('.bmp'):
            q = os.path.join(tmp, 'f_' + n + '.png')
            Image.open(os.path.join(PHOTOS, n)).convert('RGB').save(q)
            files.append(q)
        elif n.endswith('.jpg'):
            files.append(os.path.join(PHOTOS, n))
    refs = [con.execute('SELECT img_features(?, ?)', (open(u, 'rb').read(), f'cnn:model={V2}')).fetchone()[0]
            for u in files]
    for th in (1, 2, 4):
        con.execute("SELECT imgpca_config('imgpca.threads', ?)", (th,))
        rows = con.execute('SELECT url, features, error FROM s3_fetch_many(?, ?)',
                           (json.dumps(files), f'cnn:model={V2}')).fetchall()
        check(len(rows) == len(files), f's3_fetch_many threads={th}: {len(rows)} rows')
        for (url, feat, err), ref in zip(rows, refs):
            check(err is None and feat == ref, f's3_fetch_many threads={th} {url}: features differ ({err})')
    con.execute("SELECT imgpca_config('imgpca.threads', 0)")

    # bad model: a clear error naming the function, no crash
    bad = os.path.join(tmp, 'bad.onnx')
    open(bad, 'wb').write(open(V2, 'rb').read()[:5000])
    try:
        con.execute('SELECT img_features(?, ?)', (one, f'cnn:model={bad}')).fetchone()
        check(False, 'truncated model accepted')
    except sqlite3.Error as e:
        check(str(e).startswith('img_features: ') and 'bad.onnx' in str(e),
              f'truncated model: error should name img_features and the model: {e}')
finally:
    shutil.rmtree(tmp, ignore_errors=True)

summary = (f'top-1 {len(expect)} photos as README; vs onnxruntime max rel L2: {globals().get("ort_summary", "-")}; '
           f'stretch vs Pillow max |diff| {pre_worst:.3f}')
if testlib.fails:
    print(summary)
testlib.exit_if_failed()
print(summary)
