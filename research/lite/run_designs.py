"""Evaluate a list of feature designs with nested-CV ridge / RBF kernel ridge; append rows to results.tsv."""
import sys
import time

import numpy as np
from common import CACHE, load_labels
from cv import evaluate
from features import STAGES6, design

_, y, _ = load_labels()
S6 = STAGES6
S7H = STAGES6 + ("head",)
DESIGNS = {
    # name: (parts, stat)
    "full/S6": ([("full", S6)], "ms"),
    "full/S6+head": ([("full", S7H)], "ms"),
    "full/s1-s7+head": ([("full", ("s1",) + S7H)], "ms"),
    "full/head": ([("full", ("head",))], "ms"),
    "resize384/S6+head": ([("resize384", S7H)], "ms"),
    "resize320/S6+head": ([("resize320", S7H)], "ms"),
    "resize224/S6+head": ([("resize224", S7H)], "ms"),
    "frag7x32/S6+head": ([("frag7x32", S7H)], "ms"),
    "frag8x32/S6+head": ([("frag8x32", S7H)], "ms"),
    "frag4x56/S6+head": ([("frag4x56", S7H)], "ms"),
    "tiles4x224/S6+head": ([("tiles4x224", S7H)], "ms"),
    "resize224+frag7x32/S6+head": ([("resize224", S7H), ("frag7x32", S7H)], "ms"),
    "resize224+frag4x56/S6+head": ([("resize224", S7H), ("frag4x56", S7H)], "ms"),
    "resize224+tiles4x224/S6+head": ([("resize224", S7H), ("tiles4x224", S7H)], "ms"),
    "hand": ([("hand", None)], "ms"),
    "crop496/S6+head": ([("crop496", S7H)], "ms"),
    "crop448/S6+head": ([("crop448", S7H)], "ms"),
    "resize448/S6+head": ([("resize448", S7H)], "ms"),
    "crop496/S6": ([("crop496", S6)], "ms"),
    "full/S6+head:mean": ([("full", S7H)], "m"),
    "full/S6+head:std": ([("full", S7H)], "s"),
    "full/s4-s7+head": ([("full", ("s4", "s5", "s6", "s7", "head"))], "ms"),
    "full/s2-s5": ([("full", ("s2", "s3", "s4", "s5"))], "ms"),
    "full/S6+head+hand": ([("full", S7H), ("hand", None)], "ms"),
    "crop496/S6+head+hand": ([("crop496", S7H), ("hand", None)], "ms"),
    "crop496+resize224/S6+head": ([("crop496", S7H), ("resize224", S7H)], "ms"),
}
names = sys.argv[2:] or list(DESIGNS)
kinds = sys.argv[1].split(",")
out = open(CACHE / "results.tsv", "a")
for name in names:
    parts, stat = DESIGNS[name]
    X, blocks, ms = design(parts, stat)
    for kind in kinds:
        for bn in (False, True):
            if bn and len(blocks) == 1:
                continue
            t = time.time()
            r = evaluate(X, y, kind, blocks if bn else None)
            row = (f"{name}\t{kind}{'+bn' if bn else ''}\t{X.shape[1]}\t{np.mean(r['srcc']):.4f}\t{np.std(r['srcc']):.4f}\t"
                   f"{np.mean(r['plcc']):.4f}\t{np.mean(r['fold_srcc']):.4f}\t{ms:.1f}")
            print(row, f"\t({time.time()-t:.0f}s)", flush=True)
            out.write(row + "\n"); out.flush()
