#!/usr/bin/env python3
"""Writes randomized Conv / pooling cases in the ONNX node-test layout
(test_<op>_<n>/model.onnx + test_data_set_0/{input,output}_K.pb) with
NumPy float64 references, for the conformance harness:

    gen_conv_cases.py OUT_DIR [N] [SEED]

The shapes aim at the engine's special paths: depthwise 3x3 (stride 1 on
the whole plane, stride 2 by rows, their border columns and rows), other
depthwise kernels, grouped and 1x1 convolutions, dilations, asymmetric pads,
tiny maps (3x3), 1-D convolutions, and fused activations (Conv followed by
Relu or Clip)."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def conv_ref(x, w, b, stride, pads, dil, group):
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    pt, pl, pb, pr = pads
    xp = np.zeros((n, c, h + pt + pb, wd + pl + pr))
    xp[:, :, pt:pt + h, pl:pl + wd] = x
    ekh, ekw = dil[0] * (kh - 1) + 1, dil[1] * (kw - 1) + 1
    oh = (h + pt + pb - ekh) // stride[0] + 1
    ow = (wd + pl + pr - ekw) // stride[1] + 1
    y = np.zeros((n, m, oh, ow))
    mg = m // group
    for g in range(group):
        for mm in range(g * mg, (g + 1) * mg):
            for ci in range(cg):
                for ky in range(kh):
                    for kx in range(kw):
                        sl = xp[:, g * cg + ci, ky * dil[0]:ky * dil[0] + stride[0] * (oh - 1) + 1:stride[0],
                                kx * dil[1]:kx * dil[1] + stride[1] * (ow - 1) + 1:stride[1]]
                        y[:, mm] += w[mm, ci, ky, kx] * sl
            if b is not None:
                y[:, mm] += b[mm]
    return y


def write_case(root, name, nodes, inputs, inits, out_name, out_shape, feeds, want):
    d = os.path.join(root, name)
    os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
    g = helper.make_graph(nodes, name,
                          [helper.make_tensor_value_info(k, TensorProto.FLOAT, v.shape) for k, v in inputs],
                          [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, out_shape)],
                          initializer=[numpy_helper.from_array(v.astype(np.float32), k) for k, v in inits])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.save(m, os.path.join(d, "model.onnx"))
    for i, (k, v) in enumerate(feeds):
        with open(os.path.join(d, "test_data_set_0", f"input_{i}.pb"), "wb") as f:
            f.write(numpy_helper.from_array(v.astype(np.float32), k).SerializeToString())
    with open(os.path.join(d, "test_data_set_0", "output_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(want.astype(np.float32), out_name).SerializeToString())


def main():
    root = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 60
    rng = np.random.default_rng(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
    for i in range(count):
        kind = i % 6
        h, wd = int(rng.integers(3, 12)), int(rng.integers(3, 12))
        if kind == 0:   # depthwise 3x3, stride 1, pads 1 (whole-plane path)
            c, group, m, k, stride, pads, dil = int(rng.integers(1, 5)), None, None, 3, (1, 1), (1, 1, 1, 1), (1, 1)
        elif kind == 1:  # depthwise 3x3 stride 2, TF-style or symmetric pads (row path)
            c, group, m, k, stride, dil = int(rng.integers(1, 5)), None, None, 3, (2, 2), (1, 1)
            pads = (0, 0, 1, 1) if rng.integers(2) else (1, 1, 1, 1)
        elif kind == 2:  # depthwise other kernel / dilation / stride
            c, group, m, k = int(rng.integers(1, 4)), None, None, int(rng.choice([1, 2, 3, 5]))
            stride = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
            dil = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
            pads = tuple(int(p) for p in rng.integers(0, 3, 4))
        elif kind == 3:  # grouped
            group = int(rng.choice([2, 3]))
            c, m, k = group * int(rng.integers(1, 3)), group * int(rng.integers(1, 3)), int(rng.choice([1, 3]))
            stride, dil, pads = (int(rng.integers(1, 3)),) * 2, (1, 1), tuple(int(p) for p in rng.integers(0, 2, 4))
        elif kind == 4:  # 1x1 (direct GEMM) or im2col
            c, m, group, k = int(rng.integers(1, 6)), int(rng.integers(1, 6)), 1, int(rng.choice([1, 1, 3]))
            stride, dil, pads = (1, 1), (1, 1), (0, 0, 0, 0) if k == 1 else (1, 1, 1, 1)
        else:            # 1-D convolution
            c, m, group, k = int(rng.integers(1, 4)), int(rng.integers(1, 4)), 1, int(rng.choice([1, 3]))
            stride, dil, pads = (1, int(rng.integers(1, 3))), (1, 1), (0, int(rng.integers(0, 2)), 0, int(rng.integers(0, 2)))
        if group is None:
            group, m = c, c
        ekh, ekw = dil[0] * (k - 1) + 1, dil[1] * (k - 1) + 1
        kh = 1 if kind == 5 else k
        if kind == 5:
            h, ekh = 1, 1
        if h + pads[0] + pads[2] < ekh or wd + pads[1] + pads[3] < ekw:
            h, wd = h + ekh, wd + ekw
        x = rng.standard_normal((1, c, h, wd))
        w = rng.standard_normal((m, c // group, kh, k))
        b = rng.standard_normal(m) if rng.integers(2) else None
        act = ["none", "relu", "clip"][int(rng.integers(3))]
        y = conv_ref(x, w, b, stride, pads, dil, group)
        if act == "relu":
            y = np.maximum(y, 0)
        elif act == "clip":
            y = np.clip(y, -0.5, 0.75)
        attrs = dict(group=group, kernel_shape=[kh, k], strides=list(stride), dilations=list(dil),
                     pads=[pads[0], pads[1], pads[2], pads[3]])
        inits = [("W", w)] + ([("B", b)] if b is not None else [])
        xin, win, yout = x, w, y
        if kind == 5:  # genuinely 1-D tensors
            xin, win, yout = x[:, :, 0, :], w[:, :, 0, :], y[:, :, 0, :]
            inits = [("W", win)] + ([("B", b)] if b is not None else [])
            attrs = dict(group=group, kernel_shape=[k], strides=[stride[1]], dilations=[dil[1]],
                         pads=[pads[1], pads[3]])
        conv_out = "y" if act == "none" else "c"
        nodes = [helper.make_node("Conv", ["x", "W"] + (["B"] if b is not None else []), [conv_out], **attrs)]
        if act == "relu":
            nodes.append(helper.make_node("Relu", ["c"], ["y"]))
        elif act == "clip":
            inits += [("lo", np.array(-0.5)), ("hi", np.array(0.75))]
            nodes.append(helper.make_node("Clip", ["c", "lo", "hi"], ["y"]))
        write_case(root, f"test_conv_random_{i:03d}", nodes, [("x", xin)], inits, "y", list(yout.shape),
                   [("x", xin)], yout)


if __name__ == "__main__":
    main()
