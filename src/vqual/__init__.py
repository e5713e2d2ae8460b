"""vqual: offline, CPU-first visual quality assessment for images and videos.

    import vqual
    model = vqual.load_model()        # the default model
    result = model.score("photo.jpg")  # a QualityResult
    vqual.explain("photo.jpg")         # the same with an explanation in words (vqual-lmm)
    vqual.compare("src.png", "enc.jpg")  # full-reference metrics (PSNR, SSIM, MS-SSIM) beside the score
"""

__version__ = "0.1.0"

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
