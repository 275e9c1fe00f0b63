#!/usr/bin/python3
"""Architectures beyond the shipped MobileNets: torchvision's resnet18,
resnet50, mobilenet_v3_small, squeezenet1_1 and efficientnet_b0 with random
weights (fixed seed, eval mode; BatchNormalization statistics and affine
parameters randomised too, so folding them into Conv is really tested),
exported with torch.onnx.export at opsets 11 and 13 (and for three of them
at opset 13 with BatchNormalization kept as nodes), run through
img_features(png, 'cnn:model=...,norm=imagenet') and compared with PyTorch's
output on the same float tensor: relative L2 (||a - b|| / ||b||) <= 1e-4.

Inputs: 224x224 PNGs made with Pillow from ../shared/models/photos, so
resize=stretch leaves the pixels unchanged; PyTorch gets
(pixels/255 - mean)/std with torchvision's constants, computed in float64
then rounded to float32 (the engine's float32 arithmetic differs by ~1e-7).

Exported models and PyTorch's outputs are cached under build/cnntest/torch
(keyed by torch version and model), so reruns only run imgpca.

  IMGPCA_EXT=dist/imgpca python3 tests/cnn/torch_export.py [model ...]
"""
import os
import sqlite3
import sys

import numpy as np
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
PHOTOS = os.path.join(ROOT, '..', 'shared', 'models', 'photos')
CACHE = os.path.join(ROOT, 'build', 'cnntest', 'torch')
ARCHS = ['resnet18', 'resnet50', 'mobilenet_v3_small', 'squeezenet1_1', 'efficientnet_b0']
OPSETS = [11, 13]
# also exported with BatchNormalization kept as nodes (the exporter folds it
# into Conv by default): the engine's own folding at load time
KEEP_BN = ['resnet18', 'mobilenet_v3_small', 'efficientnet_b0']
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])
TOL = 1e-4


def inputs():
    """224x224 PNG bytes and the normalised float32 NCHW tensors."""
    os.makedirs(CACHE, exist_ok=True)
    pngs, xs = [], []
    for n in ('cat.bmp', 'bird.bmp', 'hot_dog.jpg'):
        q = os.path.join(CACHE, 'in_' + n.rsplit('.', 1)[0] + '.png')
        if not os.path.exists(q):
            Image.open(os.path.join(PHOTOS, n)).convert('RGB').resize((224, 224), Image.BILINEAR).save(q)
        a = np.asarray(Image.open(q), dtype=np.float64)
        xs.append(((a / 255 - MEAN) / STD).transpose(2, 0, 1).astype(np.float32))
        pngs.append(open(q, 'rb').read())
    return pngs, np.stack(xs)


def export(arch, opset, x, keep_bn=False):
    """The cached ONNX file and PyTorch's outputs for x (one row per image)."""
    import torch
    import torchvision
    tag = f'{arch}_op{opset}{"bn" if keep_bn else ""}_torch{torch.__version__.split("+")[0]}'
    onnx_path = os.path.join(CACHE, tag + '.onnx')
    ref_path = os.path.join(CACHE, tag + '.ref.npy')
    if os.path.exists(onnx_path) and os.path.exists(ref_path):
        return onnx_path, np.load(ref_path)
    torch.manual_seed(20)
    torch.set_num_threads(2)
    model = getattr(torchvision.models, arch)(weights=None)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    model.eval()
    with torch.no_grad():
        ref = np.stack([model(torch.from_numpy(x[i:i + 1])).numpy()[0] for i in range(len(x))])
        tmp = onnx_path + '.tmp'
        if keep_bn:
            torch.onnx.export(model, torch.from_numpy(x[:1]), tmp, opset_version=opset, input_names=['input'],
                              output_names=['logits'], training=torch.onnx.TrainingMode.PRESERVE,
                              do_constant_folding=False)
        else:
            torch.onnx.export(model, torch.from_numpy(x[:1]), tmp, opset_version=opset, input_names=['input'],
                              output_names=['logits'], do_constant_folding=True)
    os.replace(tmp, onnx_path)
    np.save(ref_path, ref)
    return onnx_path, ref


def main():
    archs = sys.argv[1:] or ARCHS
    pngs, x = inputs()
    con = sqlite3.connect(':memory:')
    con.enable_load_extension(True)
    con.load_extension(os.environ.get('IMGPCA_EXT', os.path.join(ROOT, 'dist', 'imgpca')))
    fails, lines = [], []
    variants = [(a, o, False) for a in archs for o in OPSETS] + [(a, 13, True) for a in archs if a in KEEP_BN]
    for arch, opset, keep_bn in variants:
        opset_name = f'{opset}{" (BatchNormalization nodes)" if keep_bn else ""}'
        try:
            path, ref = export(arch, opset, x, keep_bn)
        except Exception as e:  # an exporter failure is a failure of this test, not a skip
            fails.append(f'{arch} opset {opset_name}: torch.onnx.export failed: {e}')
            continue
        worst = 0.0
        for i, png in enumerate(pngs):
            try:
                blob = con.execute('SELECT img_features(?, ?)',
                                   (png, f'cnn:model={path},norm=imagenet')).fetchone()[0]
            except sqlite3.Error as e:
                fails.append(f'{arch} opset {opset_name}: {e}')
                break
            got = np.frombuffer(blob, dtype='<f4').astype(np.float64)
            want = ref[i].astype(np.float64).ravel()
            if got.shape != want.shape:
                fails.append(f'{arch} opset {opset_name} image {i}: {got.size} values, PyTorch {want.size}')
                break
            e = float(np.linalg.norm(got - want) / np.linalg.norm(want))
            worst = max(worst, e)
            if not e <= TOL:
                fails.append(f'{arch} opset {opset_name} image {i}: relative L2 {e:.3g} vs PyTorch > {TOL:g} '
                             f'(max |diff| {np.abs(got - want).max():.3g}, |ref| max {np.abs(want).max():.3g})')
        lines.append(f'{arch}/op{opset}{"bn" if keep_bn else ""} {worst:.2g}')
    print('torch architectures, worst relative L2 vs PyTorch: ' + ', '.join(lines))
    if fails:
        print('\n'.join(fails))
        print(f'FAIL torch architectures: {len(fails)} failures')
        return 1
    print(f'ok   torch architectures: {len(variants)} exports x {len(pngs)} images within {TOL:g}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
