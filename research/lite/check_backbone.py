"""Check the folded backbone against the original package and time it at a few input sizes (2 threads)."""
import contextlib
import io
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
import numpy as np
import torch

from vqual.encoders.spatial import TAPS, Lite0Backbone, lite0_weights_path

torch.set_num_threads(2)
from efficientnet_lite_pytorch import EfficientNet

with contextlib.redirect_stdout(io.StringIO()):
    ref = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(lite0_weights_path()), image_size=None).eval()
bb = Lite0Backbone(lite0_weights_path(), tuple(t for t, *_ in TAPS))
x = torch.randn(2, 3, 237, 301)
with torch.inference_mode():
    a = ref.extract_features(x); b = bb(x)[-1]
print("max abs diff head", (a - b).abs().max().item(), "scale", a.abs().max().item())

def bench(f, x, n=15):
    with torch.inference_mode():
        for _ in range(3): f(x)
        ts = []
        for _ in range(n):
            t = time.perf_counter(); f(x); ts.append(time.perf_counter() - t)
    return 1000 * np.median(ts)
for shape in [(1,3,500,500),(1,3,384,384),(1,3,320,320),(1,3,288,288),(1,3,256,256),(1,3,224,224),(2,3,224,224),(49,3,32,32),(4,3,224,224)]:
    x = torch.randn(*shape)
    print(shape, "orig %.1f ms" % bench(ref.extract_features, x), "folded %.1f ms" % bench(bb, x),
          "folded-CL %.1f" % bench(bb, x.contiguous(memory_format=torch.channels_last)))
