"""Full-reference metrics: a distorted picture or video judged against its source (`vqual compare`).

    from vqual.compare import compare
    r = compare("source.mp4", "encoded.mp4", metrics="psnr,ssim,ms_ssim", timeline=True)
    print(r.metrics["psnr"].value, r.metrics["ssim"].per_second, r.no_reference.distorted)
"""

from vqual.compare.core import SCALES, CompareError, compare, iter_compare, parse_metrics
from vqual.compare.metrics import DEFAULT_METRICS, METRICS, MetricSpec
from vqual.compare.result import CompareResult, MetricResult, NoReferenceScores

__all__ = ["DEFAULT_METRICS", "METRICS", "SCALES", "CompareError", "CompareResult", "MetricResult", "MetricSpec",
           "NoReferenceScores", "compare", "iter_compare", "parse_metrics"]


class _CallableModule(__import__("types").ModuleType):
    """Makes ``vqual.compare(ref, dist, ...)`` work: the package is also the function (``vqual.compare`` is this
    package whether it was reached as an attribute or imported)."""

    def __call__(self, *args, **kwargs):
        return compare(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableModule
