#!/usr/bin/python3
"""Helpers and Python peers of bench/bench_cnn.sh (CNN embeddings).

  cnn_peer.py prepare SRC N OUTDIR     N Fruits-360 images of SRC (spread over
                                       the classes) as 224x224 PNGs (Pillow
                                       BILINEAR) in OUTDIR/png, their pixels as
                                       float32 NCHW 0..255 in OUTDIR/images.f32,
                                       the PNG paths in OUTDIR/urls.json
  cnn_peer.py dynbatch MODEL OUT       copy of MODEL with a symbolic batch
                                       dimension (for batched peers)
  cnn_peer.py opencv MODEL BLOB N B,.. OpenCV DNN (python3-opencv, default
                                       threads = all cores) on the blob; one
                                       JSON line per batch size
  cnn_peer.py pipeline SRC K MODEL     the whole CNN pipeline as a data
                                       scientist writes it: Pillow decode +
                                       resize in a multiprocessing.Pool (all
                                       cores), MobileNetV2 `embedding` with
                                       OpenCV DNN (all cores, batches of 32),
                                       scikit-learn PCA(K) fitted on Training,
                                       1-NN of Test; one JSON line

OpenCV 4.6 rejects Clip with min/max inputs (opset >= 11): the model is
loaded from an in-memory copy where each Clip(x, lo, hi) with constant
bounds gets them as attributes instead (the opset-6 form); nothing else
changes.
"""
import json
import os
import sys
import time

import numpy as np


def fruits(src, n):
    files = []
    for dp, _, fns in os.walk(src, followlinks=True):
        files += [os.path.join(dp, f) for f in fns if f.lower().endswith(('.jpg', '.jpeg', '.png'))]
    files.sort()
    if n and n < len(files):
        step = len(files) / n
        files = [files[int(i * step)] for i in range(n)]
    return files


def prepare(src, n, out):
    from PIL import Image
    os.makedirs(os.path.join(out, 'png'), exist_ok=True)
    files = fruits(src, n)
    urls = []
    with open(os.path.join(out, 'images.f32'), 'wb') as blob:
        for i, f in enumerate(files):
            img = Image.open(f).convert('RGB').resize((224, 224), Image.BILINEAR)
            q = os.path.join(out, 'png', f'{i:05d}.png')
            img.save(q)
            urls.append(q)
            blob.write(np.ascontiguousarray(np.asarray(img, np.float32).transpose(2, 0, 1)).tobytes())
    json.dump(urls, open(os.path.join(out, 'urls.json'), 'w'))


def dynbatch(model, out):
    import onnx
    m = onnx.load(model)
    del m.graph.value_info[:]  # shapes recorded with batch 1
    for v in list(m.graph.input) + list(m.graph.output):
        d = v.type.tensor_type.shape.dim
        if len(d):
            d[0].ClearField('dim_value')
            d[0].dim_param = 'N'
    onnx.save(m, out)


def read_net(path):
    import cv2
    import onnx
    from onnx import helper, numpy_helper
    m = onnx.load(path)
    consts = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    for nd in m.graph.node:
        if nd.op_type == 'Clip' and len(nd.input) > 1:
            lo = float(consts[nd.input[1]]) if nd.input[1] else float(np.finfo(np.float32).min)
            hi = float(consts[nd.input[2]]) if len(nd.input) > 2 and nd.input[2] else float(np.finfo(np.float32).max)
            del nd.input[1:]
            nd.attribute.extend([helper.make_attribute('min', lo), helper.make_attribute('max', hi)])
    return cv2.dnn.readNetFromONNX(np.frombuffer(m.SerializeToString(), np.uint8))


def cpu_seconds():
    t = os.times()
    return t.user + t.system


def opencv(model, blob, n, batches):
    import cv2
    x = np.fromfile(blob, np.float32, count=n * 3 * 224 * 224).reshape(n, 3, 224, 224)
    net = read_net(model)
    out = 'embedding' if 'mobilenet' in os.path.basename(model) else net.getUnconnectedOutLayersNames()[0]
    for b in batches:
        net.setInput(x[:b])
        net.forward(out)  # warm-up
        c0, t0 = cpu_seconds(), time.perf_counter()
        for i in range(0, n, b):
            net.setInput(x[i:i + b])
            net.forward(out)
        print(json.dumps({'batch': b, 'images': n, 'seconds': time.perf_counter() - t0,
                          'cpu_seconds': cpu_seconds() - c0, 'threads': cv2.getNumThreads(),
                          'opencv': cv2.__version__}))


def load224(path):
    from PIL import Image
    with Image.open(path) as im:
        a = np.asarray(im.convert('RGB').resize((224, 224), Image.BILINEAR), np.float32)
    return a.transpose(2, 0, 1)


def pipeline(src, k, model):
    from multiprocessing import Pool

    import cv2
    from sklearn.decomposition import PCA
    from sklearn.neighbors import KNeighborsClassifier
    t0 = time.perf_counter()
    files = fruits(src, 0)
    keys = [os.path.relpath(f, src) for f in files]
    labels = np.array([os.path.basename(os.path.dirname(f)) for f in files])
    test = np.array(['/test/' in '/' + kk.lower() for kk in keys])
    t1 = time.perf_counter()
    net = read_net(model)
    feats = []
    with Pool(os.cpu_count()) as pool:
        for i in range(0, len(files), 32):
            x = np.stack(pool.map(load224, files[i:i + 32]))
            net.setInput(x)
            feats.append(np.asarray(net.forward('embedding')).reshape(len(x), -1))
    X = np.concatenate(feats)
    t2 = time.perf_counter()
    pca = PCA(n_components=k, svd_solver='full').fit(X[~test])
    P = pca.transform(X).astype(np.float32)
    t3 = time.perf_counter()
    knn = KNeighborsClassifier(n_neighbors=1, algorithm='brute').fit(P[~test], labels[~test])
    acc = float((knn.predict(P[test]) == labels[test]).mean())
    t4 = time.perf_counter()
    print(json.dumps({'images': len(files), 'list': t1 - t0, 'features': t2 - t1, 'fit_project': t3 - t2,
                      'classify': t4 - t3, 'total': t4 - t0, 'accuracy': acc, 'dims': int(X.shape[1]),
                      'opencv': cv2.__version__}))


if __name__ == '__main__':
    cmd = sys.argv[1]
    if cmd == 'prepare':
        prepare(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif cmd == 'dynbatch':
        dynbatch(sys.argv[2], sys.argv[3])
    elif cmd == 'opencv':
        opencv(sys.argv[2], sys.argv[3], int(sys.argv[4]), [int(b) for b in sys.argv[5].split(',')])
    elif cmd == 'pipeline':
        pipeline(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit(f'cnn_peer: unknown command {cmd!r}')
