"""vqual's spatial encoder on ONNX Runtime: the EfficientNet-Lite0 stage statistics that the heads read, computed
without torch. This is what scoring runs; `vqual.encoders.spatial` (PyTorch) is the reference it is tested against
(tests/encoders/test_lite0_ort.py: features within 1e-4 relative, scores within 1e-3 on the 1-5 scale).

The graph (``assets/lite0/lite0.onnx``, written by `scripts/export_onnx.py`, see `vqual.encoders.lite0_export`) takes
(N, H, W, 3) uint8 views of any size and returns, per image, the channel mean and std of every tap; the encoder keeps
the taps its `SpatialConfig` names. Fine-tuned trunk weights (vqual-lite 2's ``encoder.npz``) are not a second graph:
they are written over the float32 data of the graph's initializers of the same names (the graph's card records where
each one sits in the file) before the session is created, so one 13 MB file serves every preset.

One session per (weights, thread count) per process, created on first use. Threads: `vqual.runtime.threads`.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from vqual.encoders.lite0 import TAPS, SpatialBase, SpatialConfig
from vqual.weights import read_asset_json, resolve

GRAPH = "lite0/lite0.onnx"
CARD = "lite0/lite0.json"

#: Where each tap's [means, stds] sit in the graph's output row.
_OFFSETS: dict[str, tuple[int, int]] = {}
_at = 0
for _name, _, _ch, _ in TAPS:
    _OFFSETS[_name] = (_at, _at + 2 * _ch)
    _at += 2 * _ch
FEATURE_DIM = _at

_SESSIONS: dict[tuple, Any] = {}
_LOCK = threading.Lock()


def graph_card() -> dict[str, Any]:
    """The graph's card: its sha256, the source weights' sha256, the parameter shapes (name -> shape)."""
    return read_asset_json(CARD)


def check_tuned(tuned: dict[str, np.ndarray]) -> None:
    """Raise ValueError naming the first tuned weight that is not a graph parameter or has another shape (a weight
    file for another architecture must never load partly)."""
    params = graph_card()["parameters"]
    for name, arr in tuned.items():
        if name not in params:
            raise ValueError(f"tuned weights name an unknown backbone parameter {name!r}")
        if tuple(arr.shape) != tuple(params[name]["shape"]):
            raise ValueError(f"tuned weight {name!r} has shape {tuple(arr.shape)}, the backbone's is "
                             f"{tuple(params[name]['shape'])}")


def graph_bytes(tuned: dict[str, np.ndarray] | None = None) -> bytes:
    """The shipped graph's bytes (sha256 checked), with `tuned` weights written over the float32 data of the
    initializers of the same names. (Patching the bytes rather than ``SessionOptions.add_initializer``: ONNX Runtime
    1.32's NCHWc layout pass, which halves the time of a pass, reads the file's own initializers and would silently
    ignore an added one.) Raises WeightsError for a missing or altered graph, ValueError for foreign weights."""
    import hashlib

    from vqual.errors import WeightsError

    card = graph_card()
    path = resolve(GRAPH, None)
    data = bytearray(path.read_bytes())
    got = hashlib.sha256(data).hexdigest()
    if got != card["weights"]["lite0.onnx"]:
        raise WeightsError(f"{path}: sha256 {got[:12]}... does not match the expected "
                           f"{card['weights']['lite0.onnx'][:12]}...; the file is corrupt or from another release")
    if tuned:
        check_tuned(tuned)
        for name in sorted(tuned):
            at = card["parameters"][name]["offset"]
            raw = np.ascontiguousarray(tuned[name], dtype="<f4").tobytes()
            data[at:at + len(raw)] = raw
    return bytes(data)


def session(tuned: dict[str, np.ndarray] | None = None, tuned_key: str | None = None, threads: int | None = None):
    """The shared ONNX Runtime session of the Lite0 graph, with `tuned` weights in place of the graph's (`tuned_key`
    identifies them, e.g. their file's sha256)."""
    import onnxruntime as ort

    from vqual.runtime import threads as default_threads

    n = int(threads or default_threads())
    key = (tuned_key if tuned is not None else None, n)
    with _LOCK:
        if key not in _SESSIONS:
            so = ort.SessionOptions()
            so.intra_op_num_threads = n
            so.inter_op_num_threads = 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            so.log_severity_level = 3
            _SESSIONS[key] = ort.InferenceSession(graph_bytes(tuned), so, providers=["CPUExecutionProvider"])
        return _SESSIONS[key]


class OrtSpatialEncoder(SpatialBase):
    """Frozen EfficientNet-Lite0 feature extractor on ONNX Runtime: HxWx3 uint8 RGB -> (dim,) float32, the same
    vector as `vqual.encoders.spatial.SpatialEncoder` (per view, per tap, channel means then stds).

    >>> enc = OrtSpatialEncoder()
    >>> v = enc.encode(rgb)                   # (enc.dim,) float32; 4096 with the default config
    >>> m = enc.encode_many([rgb1, rgb2])     # (2, enc.dim): one pass per run of same-sized views
    """

    engine = "onnxruntime"

    def __init__(self, config: SpatialConfig | None = None, tuned: dict[str, np.ndarray] | None = None,
                 tuned_key: str | None = None, threads: int | None = None):
        """``tuned``: replacement weights for part of the trunk, named as the backbone's parameters (vqual-lite 2's
        fine-tuned upper half); ``tuned_key`` names them for the session cache (default: a hash of their bytes)."""
        super().__init__(config)
        from vqual.encoders.lite0 import LITE0_SHA256

        if tuned is not None and tuned_key is None:
            import hashlib

            h = hashlib.sha256()
            for name in sorted(tuned):
                h.update(name.encode())
                h.update(np.ascontiguousarray(tuned[name], dtype=np.float32).tobytes())
            tuned_key = h.hexdigest()
        self._tuned, self._tuned_key, self._threads = tuned, tuned_key, threads
        self.weights_sha256 = LITE0_SHA256  # the ImageNet weights the graph was exported from
        self._index = {view: np.concatenate([np.arange(*_OFFSETS[t]) for t in taps]) for view, taps in self._views}
        self._session = None

    @property
    def session(self):
        if self._session is None:
            self._session = session(self._tuned, self._tuned_key, self._threads)
        return self._session

    def warm(self) -> OrtSpatialEncoder:
        """Create the session now (it is otherwise created on the first `encode`)."""
        _ = self.session
        return self

    def _run(self, batch: np.ndarray) -> np.ndarray:
        """(N, h, w, 3) uint8 -> (N, FEATURE_DIM) float32."""
        return self.session.run(["features"], {"image": np.ascontiguousarray(batch)})[0]

    def encode(self, rgb: np.ndarray) -> np.ndarray:
        """HxWx3 uint8 RGB -> (dim,) float32."""
        views = self.views(rgb)
        parts = [self._run(views[view][None])[0, self._index[view]] for view, _ in self._views]
        return np.concatenate(parts).astype(np.float32, copy=False)

    def encode_many(self, rgbs: list[np.ndarray]) -> np.ndarray:
        """Several pictures -> (len, dim) float32, equal to `encode` of each (pooling is per picture); views of the
        same size go through the graph as one batch (video key frames are all one size)."""
        per = [self.views(rgb) for rgb in rgbs]
        out = np.empty((len(rgbs), self.dim), dtype=np.float32)
        col = 0
        for view, _ in self._views:
            idx = self._index[view]
            groups: dict[tuple, list[int]] = {}
            for i, v in enumerate(per):
                groups.setdefault(v[view].shape, []).append(i)
            for members in groups.values():
                feats = self._run(np.stack([per[i][view] for i in members]))
                out[members, col:col + len(idx)] = feats[:, idx]
            col += len(idx)
        return out
