"""Instruction data from any labelled set (`vqual instruct`): Q&A pairs in the LLaVA conversation form, two tasks
per item as in LMM-VQA (the five-level score and good/fair/poor by the set's tertiles) and, optionally, an
explanation whose answer follows the grounding rule (`vqual.lmm.explain.describe`) on measured distortion
attributes. Reproducible by seed.

One JSON object per line::

    {"id": "clive-fewlabel/3.bmp#score", "task": "score", "media": "image", "path": "/abs/3.bmp",
     "mos": 3.42, "system": "...", "conversations": [{"from": "human", "value": "<image>\\nHow ..."},
                                                     {"from": "gpt", "value": "The quality of this image is fair."}],
     "target": [0.0, 0.42, 0.58, 0.0, 0.0]}

`mos` is the label mapped to 1-5 (higher is better); `target` is the level-word distribution the score task learns
(best first, expectation = mos) or the good/fair/poor one-hot. A video's human turn starts with ``<video>``, which
stands for one key frame and one chunk per second (`vqual.lmm.prompts.Conversation.visual`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import numpy as np

from vqual.data import Dataset
from vqual.lmm.explain import describe
from vqual.lmm.prompts import IMAGE, SYSTEM_PROMPT, answer_text, coarse_levels, instruction, soft_levels

TASKS = ("score", "coarse", "explain")
VIDEO = "<video>"


def tertiles(scores: list[float]) -> tuple[float, float]:
    t1, t2 = np.quantile(np.asarray(scores, dtype=np.float64), [1 / 3, 2 / 3])
    return float(t1), float(t2)


def make_instructions(dataset: Dataset, *, seed: int = 0, tasks: tuple[str, ...] = ("score", "coarse"),
                      attributes: Callable[[str], dict[str, float]] | None = None) -> Iterator[dict]:
    """Yield instruction records for every item of `dataset`, in its order, one per task.

    `attributes(path)` gives measured distortion severities for the explanation task (required when "explain" is
    in `tasks`; e.g. a `vqual-lite` result's attributes). The same dataset, tasks and seed give the same records.
    """
    unknown = [t for t in tasks if t not in TASKS]
    if unknown:
        raise ValueError(f"unknown instruction task(s) {', '.join(unknown)} (choose from {', '.join(TASKS)})")
    if "explain" in tasks and attributes is None:
        raise ValueError("the explain task needs measured attributes")
    rng = random.Random(seed)
    ys = [dataset.info.to_1_5(it.mos) for it in dataset]
    tert = tertiles(ys) if ys else (0.0, 0.0)
    media = dataset.info.kind
    visual = IMAGE if media == "image" else VIDEO
    for item, y in zip(dataset, ys):
        y = float(min(5.0, max(1.0, y)))
        for task in tasks:
            if task == "score":
                target = soft_levels(y)
            elif task == "coarse":
                target = coarse_levels(y, tert)
            else:
                target = describe(attributes(str(item.path)), media, score=y)  # the grounding rule's answer
            question = instruction(task, media, rng)
            rec = {"id": f"{dataset.info.name}/{item.name or item.path.name}#{task}", "task": task, "media": media,
                   "path": str(item.path), "mos": round(y, 4), "system": SYSTEM_PROMPT,
                   "conversations": [{"from": "human", "value": f"{visual}\n{question}"},
                                     {"from": "gpt", "value": answer_text(task, media, target)}]}
            if task != "explain":
                rec["target"] = [round(v, 6) for v in target]
            yield rec
