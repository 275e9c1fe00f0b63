#!/usr/bin/python3
"""Writes the hostile ONNX models of the loader test (tests/cnn/hostile.c)
into DIR, with DIR/cases.txt: one line per model

    <file> <stage> <keywords>

stage = the step that must fail: "load" (cnn_graph_load), "plan"
(cnn_plan_new with the declared input shapes, symbolic dimensions = 1) or
"any" (either); keywords = '|'-separated words, one of which the error
message must contain (case-insensitive), so that an error says why.

  python3 tests/cnn/hostile_models.py DIR
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
cases = []


def vi(name, shape, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, shape)


def save(name, stage, keywords, nodes, inputs, outputs, inits=(), opset=13, raw=None):
    path = os.path.join(out, name + '.onnx')
    if raw is None:
        g = helper.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
        m = helper.make_model(g, opset_imports=[helper.make_opsetid('', opset)])
        raw = m.SerializeToString()
    open(path, 'wb').write(raw)
    cases.append(f'{name}.onnx {stage} {keywords}')


def conv_w(o, i, k):
    return numpy_helper.from_array(np.full((o, i, k, k), 0.1, np.float32), 'W')


x = vi('x', [1, 3, 8, 8])
y = vi('y', None)

# a valid small model: the base of the bit-flip and truncation sweeps in hostile.c
save('valid_conv', 'none', '-', [helper.make_node('Conv', ['x', 'W'], ['c'], pads=[1, 1, 1, 1]),
                                 helper.make_node('Relu', ['c'], ['y'])], [x], [y], [conv_w(4, 3, 3)])

# cycle: a -> b -> a
save('cycle', 'any', 'cycle|cyclic|loop|order|produced|unknown|undefined|missing',
     [helper.make_node('Relu', ['b'], ['a']), helper.make_node('Relu', ['a'], ['b']),
      helper.make_node('Add', ['x', 'b'], ['y'])], [x], [y])
# self loop
save('self_loop', 'any', 'cycle|cyclic|loop|order|produced|unknown|undefined|missing',
     [helper.make_node('Add', ['x', 'y'], ['y'])], [x], [y])
# missing initializer: W named but never defined
save('missing_initializer', 'any', 'w|missing|unknown|undefined|produced|not found',
     [helper.make_node('Conv', ['x', 'W'], ['y'])], [x], [y])
# initializer whose dims promise more data than it holds
t = TensorProto()
t.name, t.data_type = 'W', TensorProto.FLOAT
t.dims.extend([4, 3, 3, 3])
t.raw_data = b'\0' * 16
save('short_initializer', 'load', 'w|size|length|bytes|data|elements|short|truncat',
     [helper.make_node('Conv', ['x', 'W'], ['y'])], [x], [y], [t])
# oversized dims: 2^40 x 2^40 elements
t = TensorProto()
t.name, t.data_type = 'W', TensorProto.FLOAT
t.dims.extend([1 << 40, 1 << 40, 1, 1])
t.raw_data = b'\0' * 16
save('oversized_initializer', 'load', 'w|large|limit|size|overflow|elements|too|big|dim',
     [helper.make_node('Conv', ['x', 'W'], ['y'])], [x], [y], [t])
# negative dimension
t = TensorProto()
t.name, t.data_type = 'W', TensorProto.FLOAT
t.dims.extend([4, -3, 3, 3])
save('negative_dim', 'load', 'w|negative|dim|invalid|size',
     [helper.make_node('Conv', ['x', 'W'], ['y'])], [x], [y], [t])
# an input of 3 x 100000 x 100000 (3e10 elements, beyond the element limit)
save('oversized_input', 'plan', 'large|limit|size|overflow|elements|too|big|dim',
     [helper.make_node('Relu', ['x'], ['y'])], [vi('x', [1, 3, 100000, 100000])], [y])
# huge Conv output through padding
save('oversized_pads', 'any', 'large|limit|size|overflow|elements|too|big|pad|dim',
     [helper.make_node('Conv', ['x', 'W'], ['y'], pads=[1 << 30, 1 << 30, 1 << 30, 1 << 30])], [x], [y],
     [conv_w(4, 3, 3)])
# unsupported operator: named with the node
save('unknown_op', 'load', 'resize|unsupported|operator|unknown', [helper.make_node('Resize', ['x'], ['y'],
                                                                                      name='the_resize')], [x], [y])
# an operator from another domain
save('custom_domain', 'load', 'domain|com.example|unsupported|operator|unknown',
     [helper.make_node('Relu', ['x'], ['y'], domain='com.example')], [x], [y])
# unsupported attribute value: Conv auto_pad=BOGUS
save('bad_auto_pad', 'any', 'auto_pad|bogus|pad|unsupported|attribute',
     [helper.make_node('Conv', ['x', 'W'], ['y'], auto_pad='BOGUS')], [x], [y], [conv_w(4, 3, 3)])
# group that does not divide the channels
save('bad_group', 'any', 'group|channel|shape|mismatch|divid',
     [helper.make_node('Conv', ['x', 'W'], ['y'], group=2)], [x], [y], [conv_w(4, 3, 3)])
# weights with the wrong input channels
save('conv_channel_mismatch', 'plan', 'channel|shape|mismatch|w|dim',
     [helper.make_node('Conv', ['x', 'W'], ['y'])], [x], [y], [conv_w(4, 5, 3)])
# Reshape to a shape with another element count
save('reshape_mismatch', 'plan', 'reshape|shape|element|size|mismatch',
     [helper.make_node('Reshape', ['x', 's'], ['y'])], [x], [y],
     [numpy_helper.from_array(np.array([7, 5], np.int64), 's')])
# Gather out of range on a constant
save('gather_out_of_range', 'plan', 'gather|index|indices|range|bound',
     [helper.make_node('Gather', ['x', 'i'], ['y'], axis=1)], [x], [y],
     [numpy_helper.from_array(np.array([3], np.int64), 'i')])
# Concat of different spatial sizes
save('concat_mismatch', 'plan', 'concat|shape|dim|mismatch',
     [helper.make_node('MaxPool', ['x'], ['p'], kernel_shape=[2, 2], strides=[2, 2]),
      helper.make_node('Concat', ['x', 'p'], ['y'], axis=1)], [x], [y])
# Conv kernel larger than the padded input
save('kernel_too_big', 'plan', 'kernel|shape|size|dim|small|negative|output',
     [helper.make_node('Conv', ['x', 'W'], ['y'])], [x], [y], [conv_w(4, 3, 9)])
# an attribute with an empty name (a bit flip away from a valid model)
nd = helper.make_node('Conv', ['x', 'W'], ['y'])
nd.attribute.extend([helper.make_attribute('', 1)])
save('empty_attribute_name', 'any', 'attribute|unsupported|name|empty', [nd], [x], [y], [conv_w(4, 3, 3)])
# control characters in an operator name: the error must not echo them raw
save('control_chars_op', 'load', 'unsupported|operator', [helper.make_node('Re\x1b[2Jlu\n', ['x'], ['y'])], [x], [y])
# zero stride
save('zero_stride', 'any', 'stride|zero|invalid|attribute',
     [helper.make_node('Conv', ['x', 'W'], ['y'], strides=[0, 0])], [x], [y], [conv_w(4, 3, 3)])
# external data pointing outside the model's folder
t = TensorProto()
t.name, t.data_type = 'W', TensorProto.FLOAT
t.dims.extend([4, 3, 3, 3])
t.data_location = TensorProto.EXTERNAL
e = t.external_data.add()
e.key, e.value = 'location', '../../../../etc/passwd'
save('external_data_escape', 'load', 'external|location|data|w|refuse|unsupported',
     [helper.make_node('Conv', ['x', 'W'], ['y'])], [x], [y], [t])
# float64 initializer (only float32 runs)
save('double_initializer', 'any', 'type|double|float64|data|unsupported|w',
     [helper.make_node('Add', ['x', 'b'], ['y'])], [x], [y],
     [numpy_helper.from_array(np.ones((1, 3, 8, 8), np.float64), 'b')])
# graph with no node and an output that nothing produces
save('no_nodes', 'any', 'y|produced|missing|unknown|output|empty|node',
     [], [x], [vi('y', [1, 3, 8, 8])])
# the same name produced twice
save('duplicate_output', 'any', 'a|duplicate|twice|already|defined',
     [helper.make_node('Relu', ['x'], ['a']), helper.make_node('Sigmoid', ['x'], ['a']),
      helper.make_node('Relu', ['a'], ['y'])], [x], [y])
# not protobuf at all / empty
save('garbage', 'load', 'parse|protobuf|onnx|invalid|model|decode|corrupt',
     None, None, None, raw=bytes(range(256)) * 4)
save('empty', 'load', 'parse|protobuf|onnx|invalid|model|empty|graph|decode|corrupt', None, None, None, raw=b'')
# a model without a graph
save('no_graph', 'load', 'graph|missing|empty|model|no ', None, None, None,
     raw=helper.make_model(helper.make_graph([], 'g', [], []),
                           opset_imports=[helper.make_opsetid('', 13)]).SerializeToString()[:4])
# Reshape in its opset-1 form (the shape as an attribute, no second input):
# refused, never run as if it were the opset-5+ form
save('reshape_opset1', 'any', 'opset|version|unsupported|input|shape|reshape',
     [helper.make_node('Reshape', ['x'], ['y'], shape=[1, 192])], [x], [y], opset=1)

open(os.path.join(out, 'cases.txt'), 'w').write('\n'.join(cases) + '\n')
print(f'{len(cases)} hostile models in {out}')
