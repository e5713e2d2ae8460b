"""Q&A prompts of the language path (LMM-VQA style): a system prompt that sets the role, varied instructions with
image and video wording, a response restriction that fixes the answer's form, and the answers themselves.

A conversation is rendered with the decoder's own chat template; visual inputs appear as placeholders
(`IMAGE` for one key frame's spatial tokens, `MOTION` for one 1-second chunk's temporal token), which
`vqual.lmm.model` replaces by projected features. Answers are marked so that training knows which tokens to learn.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from vqual.levels import LEVELS

IMAGE = "<image>"
MOTION = "<motion>"
PLACEHOLDER_RE = re.compile(f"({re.escape(IMAGE)}|{re.escape(MOTION)})")

SYSTEM_PROMPT = "You are vqual, an expert who judges the visual quality of images and videos."

#: The five ACR level words, best first (weights 5..1): the level names; a score reads them after `ANSWER_PREFIX`.
LEVEL_WORDS: tuple[str, ...] = LEVELS
#: The three coarse levels (tertiles of the training scores), best first.
COARSE_WORDS = ("good", "fair", "poor")

SCORE_INSTRUCTIONS = (
    "How would you rate the quality of this {media}?",
    "Rate the overall visual quality of this {media}.",
    "What do you think about the quality of this {media}?",
    "Can you judge the quality of this {media}?",
    "How good is this {media}, in terms of quality?",
    "Please assess the perceptual quality of this {media}.",
    "Give your opinion of this {media}'s quality.",
    "As a quality expert, how would you grade this {media}?",
    "How does this {media} look to a viewer, quality-wise?",
    "Evaluate the visual quality of the {media} shown.",
    "Is this {media} of high or low quality?",
    "Score the quality of this {media} the way a panel of viewers would.",
    "What is the quality level of this {media}?",
    "Judge the technical quality of this {media}.",
    "Tell me how well this {media} is captured and encoded.",
    "Rate this {media}: how pleasant is it to look at?",
    "What quality would people give this {media}?",
    "Assess this {media}'s clarity and overall quality.",
    "How would an audience rate the quality of this {media}?",
    "Please rate the {media} quality.",
    "Examine this {media} and rate its quality.",
    "Looking at this {media}, how would you describe its quality?",
)
SCORE_RESTRICTION = "Answer with one word: excellent, good, fair, poor or bad."
COARSE_RESTRICTION = "Answer with one word: good, fair or poor."
EXPLAIN_INSTRUCTIONS = (
    "What, if anything, is wrong with the quality of this {media}?",
    "Describe the main quality problems of this {media}.",
    "Which distortions do you see in this {media}?",
    "Explain what limits the quality of this {media}.",
    "Point out any visible defects in this {media}.",
    "What degrades this {media}, if anything?",
    "Name the distortions that affect this {media}.",
    "Why does this {media} look the way it does, quality-wise?",
)
EXPLAIN_RESTRICTION = "Answer in one short sentence."
ANSWER_PREFIX = "The quality of this {media} is"


@dataclass
class Turn:
    """One question and its answer. `task` is "score" (a level word, ACR five levels), "coarse" (good/fair/poor)
    or "explain" (free text). For the level tasks `target` is a probability per word (best first); for "explain"
    it is the answer sentence."""

    task: str
    instruction: str
    target: list[float] | str | None = None


@dataclass
class Conversation:
    """The visual inputs of one item (a sequence of IMAGE / MOTION placeholders in time order) and its turns."""

    media: str  # "image" or "video"
    n_frames: int  # key frames (one IMAGE each); videos add one MOTION per frame
    turns: list[Turn] = field(default_factory=list)

    @property
    def visual(self) -> str:
        if self.media == "image":
            return IMAGE * self.n_frames
        return "".join(IMAGE + MOTION for _ in range(self.n_frames))


def media_word(media: str) -> str:
    return "video" if media == "video" else "image"


def instruction(task: str, media: str, rng: random.Random | None = None, index: int | None = None) -> str:
    """The user's text for a task: an instruction template (random with `rng`, else `index`, else the first) and the
    response restriction."""
    pool = {"score": SCORE_INSTRUCTIONS, "coarse": SCORE_INSTRUCTIONS, "explain": EXPLAIN_INSTRUCTIONS}[task]
    k = rng.randrange(len(pool)) if rng is not None else (index or 0) % len(pool)
    restriction = {"score": SCORE_RESTRICTION, "coarse": COARSE_RESTRICTION, "explain": EXPLAIN_RESTRICTION}[task]
    return f"{pool[k].format(media=media_word(media))} {restriction}"


def answer_prefix(media: str) -> str:
    return ANSWER_PREFIX.format(media=media_word(media))


def answer_text(task: str, media: str, target) -> str:
    """The assistant's full answer for a task (level tasks: the most probable word)."""
    if task == "explain":
        return str(target)
    words = LEVEL_WORDS if task == "score" else COARSE_WORDS
    return f"{answer_prefix(media)} {words[max(range(len(words)), key=lambda i: target[i])]}."


def soft_levels(score: float) -> list[float]:
    """A 1-5 score as a distribution over the five level words (best first) whose expectation is the score:
    the mass is split between the two nearest levels."""
    s = min(5.0, max(1.0, float(score)))
    lo = int(s // 1) if s < 5.0 else 4
    frac = s - lo
    p = [0.0] * 5
    p[5 - lo] = 1.0 - frac  # level `lo` (1 = bad) sits at index 5 - lo
    p[4 - lo] += frac
    return p


def coarse_levels(score: float, tertiles: tuple[float, float]) -> list[float]:
    """good / fair / poor one-hot by the tertiles (t1 < t2) of the training scores."""
    t1, t2 = tertiles
    return [1.0, 0.0, 0.0] if score >= t2 else ([0.0, 1.0, 0.0] if score >= t1 else [0.0, 0.0, 1.0])
