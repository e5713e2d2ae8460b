"""vqual: offline, CPU-first visual quality assessment for images and videos.

    import vqual
    model = vqual.load_model()        # the default model
    result = model.score("photo.jpg")  # a QualityResult
    vqual.explain("photo.jpg")         # the same with an explanation in words (vqual-lmm)
    vqual.compare("src.png", "enc.jpg")  # full-reference metrics (PSNR, SSIM, MS-SSIM) beside the score

Layers, lowest first. A module imports only from its own layer or lower ones (imports inside functions count,
``if TYPE_CHECKING:`` ones do not), and no modules import each other in a circle; tests/test_layers.py reads this
table and checks both. A name stands for the module and everything below it; the longest name that matches wins
(the bare ``vqual`` is this package's own ``__init__`` only). Every module must match a name.

    base:      vqual.errors vqual.result vqual.levels vqual.version vqual.paths vqual.weights vqual.lazy
               vqual.runtime vqual.progress vqual.interrupts vqual.output vqual.calibration
    media:     vqual.media vqual.data vqual.inputs vqual.samples
    encoders:  vqual.encoders
    heads:     vqual.heads vqual.lmm
    models:    vqual.models vqual.registry
    api:       vqual.api vqual.compare
    metrics:   vqual.eval.metrics
    adapt:     vqual.adapt
    eval:      vqual.eval
    serve:     vqual.serve vqual.batch
    cli:       vqual.cli vqual.__main__ vqual

- base: results, errors, levels, file locations and writers, and the calibration file (`vqual.calibration`: a
  saved calibration is loaded and applied while scoring, so it sits with the result it maps; fitting one is adapt).
- media: decoding images and videos, finding inputs, and the benchmark datasets' label files (`data` reads tables
  and finds media by the media extensions; it never decodes).
- encoders: the features heads read. The spatial encoder has two engines over one framework-free core
  (`encoders.lite0`: taps, views, configuration): `encoders.lite0_ort` on ONNX Runtime, which scoring uses, and
  `encoders.spatial` in PyTorch, the reference for training, the language path and the parity tests
  (`encoders.lite0_export` writes the ONNX graph from it; both need the ``train`` extra).
- heads: heads, level head and pooling; `lmm` holds the language path's parts (projectors, decoder, prompts),
  which `models.lmm` assembles into a model, so it sits below models.
- models: the models and the registry that names them; api and compare load models by name.
- metrics, adapt, eval: fitting (adapt) builds on the evaluation metrics, and the evaluation protocols fit adapt's
  maps in each fold, so `eval.metrics` sits below adapt and the rest of `eval` above it.
- serve: the HTTP service and web page (`vqual serve`) and batch scoring on Ray (`vqual batch`), clients of api like
  the command line.
- cli: the command line, and this package's lazy facade (``vqual.load_model`` etc. import `api` on first use).
"""

from vqual.version import __version__

_API = ("load_model", "score", "iter_score", "explain", "list_models")


def __getattr__(name: str):
    # The API is imported on first use so that `import vqual` stays cheap (no numpy/torch at import time).
    if name in _API:
        from vqual import api

        return getattr(api, name)
    if name == "compare":  # the package, callable: vqual.compare(ref, dist, metrics=...)
        import vqual.compare

        return vqual.compare
    if name in ("QualityResult", "Failure"):
        from vqual import result

        return getattr(result, name)
    raise AttributeError(f"module 'vqual' has no attribute {name!r}")


__all__ = [*_API, "QualityResult", "Failure", "compare", "__version__"]
