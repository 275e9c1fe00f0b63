#!/usr/bin/python3
"""Writes tests/cnn/fixtures/tiny_cnn.onnx: a small image model (random
weights, fixed seed) with the operators of the MobileNets and ResNets --
input normalisation (Sub, Mul), Conv + BatchNormalization + Relu, a
depthwise Conv + Clip (input form), a residual Add, MaxPool,
GlobalAveragePool, Flatten, Gemm, Softmax -- and two outputs, `embedding`
(16-d) and `probabilities` (5-d).  Input [1, 3, 16, 16], RGB 0..255.
Used where a real model would be too slow: the OOM sweep and the
concurrency/ThreadSanitizer cases.  Re-run to regenerate (deterministic).
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(20)


def t(name, a):
    return numpy_helper.from_array(np.asarray(a, np.float32), name)


inits = [
    t('mean', [128.0]), t('scale', [1 / 128]),
    t('w1', rng.normal(0, 0.3, (8, 3, 3, 3))), t('b1', rng.normal(0, 0.1, 8)),
    t('bn_s', rng.uniform(0.5, 1.5, 8)), t('bn_b', rng.normal(0, 0.1, 8)),
    t('bn_m', rng.normal(0, 0.1, 8)), t('bn_v', rng.uniform(0.5, 2, 8)),
    t('wd', rng.normal(0, 0.3, (8, 1, 3, 3))), t('lo', 0.0), t('hi', 6.0),
    t('w2', rng.normal(0, 0.3, (16, 8, 1, 1))),
    t('wf', rng.normal(0, 0.3, (5, 16))), t('bf', rng.normal(0, 0.1, 5)),
]
nodes = [
    helper.make_node('Sub', ['input', 'mean'], ['n0']),
    helper.make_node('Mul', ['n0', 'scale'], ['n1']),
    helper.make_node('Conv', ['n1', 'w1', 'b1'], ['c1'], pads=[1, 1, 1, 1], strides=[2, 2]),
    helper.make_node('BatchNormalization', ['c1', 'bn_s', 'bn_b', 'bn_m', 'bn_v'], ['bn1'], epsilon=1e-3),
    helper.make_node('Relu', ['bn1'], ['r1']),
    helper.make_node('Conv', ['r1', 'wd'], ['d1'], pads=[1, 1, 1, 1], group=8),
    helper.make_node('Clip', ['d1', 'lo', 'hi'], ['k1']),
    helper.make_node('Add', ['k1', 'r1'], ['a1']),
    helper.make_node('MaxPool', ['a1'], ['m1'], kernel_shape=[2, 2], strides=[2, 2]),
    helper.make_node('Conv', ['m1', 'w2'], ['c2']),
    helper.make_node('GlobalAveragePool', ['c2'], ['g']),
    helper.make_node('Flatten', ['g'], ['embedding']),
    helper.make_node('Gemm', ['embedding', 'wf', 'bf'], ['logits'], transB=1),
    helper.make_node('Softmax', ['logits'], ['probabilities'], axis=1),
]
g = helper.make_graph(nodes, 'tiny_cnn', [helper.make_tensor_value_info('input', TensorProto.FLOAT, [1, 3, 16, 16])],
                      [helper.make_tensor_value_info('probabilities', TensorProto.FLOAT, [1, 5]),
                       helper.make_tensor_value_info('embedding', TensorProto.FLOAT, [1, 16])], initializer=inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)], producer_name='imgpca-tests')
m.ir_version = 7
onnx.checker.check_model(m)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'tiny_cnn.onnx')
open(out, 'wb').write(m.SerializeToString())
print(out)
