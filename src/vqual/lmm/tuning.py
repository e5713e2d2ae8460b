"""Projector-only instruction tuning (the LMM-VQA recipe): encoders and decoder frozen, only the projectors learn,
from (conversation, visual features) items. Seeded and deterministic on a given machine."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from vqual.lmm.model import LanguagePath, Visual
from vqual.lmm.prompts import Conversation


@dataclass
class TuneConfig:
    epochs: int = 3
    batch: int = 8
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup: float = 0.1  # fraction of steps with a linear warm-up, then cosine decay
    explain_weight: float = 1.0
    seed: int = 0
    log_every: int = 50  # steps between progress lines (0: per epoch only)


def tune(path: LanguagePath, items: list[tuple[Conversation, Visual]], config: TuneConfig,
         log: Callable[[str], None] | None = None) -> list[dict]:
    """Train `path.projectors` on `items` (each epoch in a seeded random order); returns per-epoch mean losses."""
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    params = [p for p in path.projectors.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    steps = config.epochs * math.ceil(len(items) / config.batch)
    warm = max(1, int(config.warmup * steps))

    def lr_at(step: int) -> float:
        if step < warm:
            return config.lr * (step + 1) / warm
        t = (step - warm) / max(1, steps - warm)
        return config.lr * 0.5 * (1.0 + math.cos(math.pi * t))

    history = []
    step = 0
    path.projectors.train()
    try:
        for epoch in range(config.epochs):
            order = rng.permutation(len(items))
            sums: dict[str, float] = {}
            n = 0
            t0 = time.perf_counter()
            for start in range(0, len(order), config.batch):
                batch = [items[i] for i in order[start:start + config.batch]]
                for g in opt.param_groups:
                    g["lr"] = lr_at(step)
                seqs = [path.embed(conv, vis) for conv, vis in batch]
                loss, parts = path.loss(seqs, explain_weight=config.explain_weight)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                opt.step()
                step += 1
                n += 1
                for k, v in parts.items():
                    sums[k] = sums.get(k, 0.0) + v
                if log and config.log_every and step % config.log_every == 0:
                    log(f"step {step}/{steps} ({time.perf_counter() - t0:.0f} s into epoch {epoch + 1}): "
                        + ", ".join(f"{k} {v / n:.4f}" for k, v in sums.items()))
            row = {"epoch": epoch + 1, **{k: v / n for k, v in sums.items()},
                   "seconds": round(time.perf_counter() - t0, 1)}
            history.append(row)
            if log:
                log(f"epoch {epoch + 1}/{config.epochs}: " + ", ".join(f"{k} {v:.4f}" for k, v in row.items()
                                                                       if k != "epoch"))
    finally:
        path.projectors.eval()
    return history
