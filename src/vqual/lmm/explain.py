"""Explanations in words: the sentences the language path learns (composed from distortion attributes) and the
check that a generated explanation does not contradict the score and the measured attributes.

The vocabulary is one table (`PHRASES`): each attribute has the phrase used in answers and the words that count
as naming it when reading an explanation back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from vqual.encoders.temporal import ATTRIBUTES as TEMPORAL_ATTRIBUTES

#: attribute -> (phrase used in answers, words that name it when reading text)
PHRASES: dict[str, tuple[str, tuple[str, ...]]] = {
    "blur": ("blur", ("blur", "blurry", "blurred", "out of focus", "soft focus")),
    "noise": ("noise", ("noise", "noisy", "grain", "grainy")),
    "compression": ("compression artefacts", ("compression", "blocky", "blocking", "artefact", "artifact")),
    "underexposure": ("underexposure", ("underexpos", "too dark", "dark")),
    "overexposure": ("overexposure", ("overexpos", "blown", "too bright", "washed out")),
    "colour": ("a colour cast", ("colour cast", "color cast", "tint", "colour", "color")),
    "scaling": ("upscaling softness", ("upscal", "scaling", "pixelat", "low resolution")),
    "stutter": ("stutter", ("stutter", "judder", "choppy")),
    "frame_drops": ("dropped frames", ("dropped frame", "frame drop", "skipped frame", "dropped")),
    "shake": ("camera shake", ("shake", "shaky", "jitter", "wobbl")),
    "flicker": ("flicker", ("flicker", "flickering", "strob")),
}
CLEAN_SENTENCE = "It looks clean: no distortion stands out."
CLEAN_WORDS = ("looks clean", "no distortion", "no visible")

MENTION = 0.35  # an attribute at least this severe is named in training answers
CONTRADICT_LOW = 0.15  # naming an image attribute measured below this contradicts the measurement
#: naming a temporal attribute measured below this contradicts it. The temporal encoder reports 0 when it finds no
#: stutter, drops, shake or flicker, and mild real cases measure low: level-1 shake 0.009-0.032, level-1 flicker
#: 0.008-0.053 on benchmarks/lmm.py's held-out clips, where clean clips measured 0 (flicker up to 0.008).
TEMPORAL_CONTRADICT_LOW = 0.005
CONTRADICT_HIGH = 0.6  # saying "clean" while an attribute is at least this severe contradicts it


SEVERITY_WORDS = ("noticeable", "strong", "severe")


def severity_word(v: float) -> str:
    return SEVERITY_WORDS[2] if v >= 0.85 else SEVERITY_WORDS[1 if v >= 0.6 else 0]


def compose(attributes: dict[str, float], top: int = 2) -> str:
    """The answer sentence for measured (or known) distortion severities in [0, 1]: the `top` strongest attributes
    at or above `MENTION`, or the clean sentence."""
    named = sorted(((v, k) for k, v in attributes.items() if k in PHRASES and v >= MENTION), reverse=True)[:top]
    if not named:
        return CLEAN_SENTENCE
    parts = [f"{severity_word(v)} {PHRASES[k][0]}" for v, k in named]
    if len(parts) == 1:
        return f"The main problem is {parts[0]}."
    return f"The main problem is {parts[0]}, along with {parts[1]}."


def answer_sentences(media: str = "video") -> list[str]:
    """Every sentence `compose` can produce for `media`: the clean sentence, and one or two named problems at each
    severity word (an image's answers never name a temporal distortion). Constrained decoding
    (`LanguagePath.generate(..., allowed=...)`) keeps the decoder inside this set."""
    out = [CLEAN_SENTENCE]
    names = [k for k in PHRASES if media == "video" or k not in TEMPORAL_ATTRIBUTES]
    parts = [(k, f"{w} {PHRASES[k][0]}") for k in names for w in SEVERITY_WORDS]
    for k, a in parts:
        out.append(f"The main problem is {a}.")
        out += [f"The main problem is {a}, along with {b}." for k2, b in parts if k2 != k]
    return out


#: The constrained decoder's answer sets, per media kind.
ANSWERS = {media: tuple(answer_sentences(media)) for media in ("image", "video")}

def grounded(media: str, score: float, attributes: dict[str, float]) -> tuple[str, ...]:
    """The answers for `media` that `check` finds consistent with this score and these measured attributes, in
    `ANSWERS` order: what the constrained decoder chooses from, so that an explanation never names a distortion
    measured as absent or calls a poorly scored or clearly distorted picture clean. If none is consistent (a poor
    score with nothing measured), every answer, and the check flags the one chosen."""
    ok = tuple(a for a in ANSWERS[media] if check(a, score, attributes).consistent)
    return ok or ANSWERS[media]


_ARTICLE_AFTER_SEVERITY = re.compile(r"\b(" + "|".join(SEVERITY_WORDS) + r") (a|an) ")


def display(sentence: str) -> str:
    """The sentence as shown to people. Answers are trained as "<severity> <phrase>", which puts a countable
    phrase's article after the severity word ("noticeable a colour cast"); this moves it in front ("a noticeable
    colour cast"). Only word order changes, so the decoder's choice and what `mentioned` reads are the same."""
    return _ARTICLE_AFTER_SEVERITY.sub(lambda m: f"{m.group(2)} {m.group(1)} ", sentence)


def mentioned(text: str) -> list[str]:
    """Attributes an explanation names, in PHRASES order (the longest matching words win over their prefixes:
    "colour cast" is colour, "dark" alone is underexposure)."""
    t = " " + re.sub(r"\s+", " ", text.lower()) + " "
    found = []
    for name, (_, words) in PHRASES.items():
        if any(w in t for w in words):
            found.append(name)
    return found


def says_clean(text: str) -> bool:
    t = text.lower()
    return any(w in t for w in CLEAN_WORDS)


@dataclass
class Check:
    """The outcome of reading an explanation back against the result it explains."""

    consistent: bool
    mentioned: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"consistent": self.consistent, "mentioned": list(self.mentioned), "problems": list(self.problems)}


def check(text: str, score: float, attributes: dict[str, float]) -> Check:
    """Does `text` contradict the score (1-5) or the measured attributes? Contradictions:
    - it names a distortion whose measured severity is below `CONTRADICT_LOW` (temporal ones:
      `TEMPORAL_CONTRADICT_LOW`);
    - it calls the picture clean while some attribute is at least `CONTRADICT_HIGH`, or while the score is poor
      or bad (below 2.5);
    - it names no distortion and does not call it clean while the score is poor or bad (nothing explains it);
    - it names a severe or strong problem while the score is excellent (4.5 or more)."""
    names = mentioned(text)
    problems = []
    for n in names:
        v = attributes.get(n)
        if v is not None and v < (TEMPORAL_CONTRADICT_LOW if n in TEMPORAL_ATTRIBUTES else CONTRADICT_LOW):
            problems.append(f"names {n} but its measured severity is {v:.2f}")
    clean = says_clean(text)
    worst = max(((v, k) for k, v in attributes.items() if k in PHRASES), default=(0.0, None))
    if clean and worst[0] >= CONTRADICT_HIGH:
        problems.append(f"calls it clean but {worst[1]} is measured at {worst[0]:.2f}")
    if clean and score < 2.5:
        problems.append(f"calls it clean but the score is {score:.2f}")
    if not clean and not names and score < 2.5:
        problems.append(f"names no problem to explain a score of {score:.2f}")
    if score >= 4.5 and re.search(r"\b(severe|strong)\b", text.lower()):
        problems.append(f"names a strong problem but the score is {score:.2f}")
    return Check(consistent=not problems, mentioned=names, problems=problems)
