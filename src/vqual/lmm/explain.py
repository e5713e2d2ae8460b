"""Explanations in words: severity bands, the one grounding rule, and the strict check.

**Severity bands.** Each attribute's measured 0-1 value (`vqual-lite`'s attribute head, or the temporal encoder's
severity) falls in one of the bands none / slight / noticeable / strong / severe (`BANDS`). The four thresholds per
attribute were fitted on graded synthetic distortions of the training content so that clean pictures measure
"none", the mildest level at most "slight" and higher levels rise (scripts/fit_severity_bands.py; the shipped
thresholds are `assets/lmm/severity_bands.json`, loaded by `SeverityBands.shipped`). A piecewise linear map through
the thresholds gives each value a calibrated severity (0.2 at the slight threshold ... 0.8 at severe) on which
attributes can be compared: the strongest attribute is the one with the highest calibrated severity.

**The grounding rule** (`grounded` builds the decoder's answer set from it, `check` tests any text against it):

1. a distortion may be named only if its band is at least "noticeable", and with exactly that band's word
   (noticeable / strong / severe);
2. when anything reaches "noticeable", the strongest distortion is named first;
3. "It looks clean" only when nothing reaches "noticeable";
4. the words agree with the level of the score: nothing clean about a poor or bad picture, nothing severe about a
   good or excellent one. (`vqual-lmm` keeps its level consistent with the measurements: a severe distortion rules
   out good and excellent, `level_ceiling`. When nothing is noticeable but the level is poor or bad, the answer says
   so: `LOW_SENTENCE`.)

A video's explanation may add where it is worst, "Worst moments: strong stutter at 4-6 s.": a time-qualified
mention is checked against the named seconds of the timeline, with the same rule.

The vocabulary is one table (`PHRASES`): each attribute's phrase in answers and the words that name it in text.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vqual.encoders.temporal import ATTRIBUTES as TEMPORAL_ATTRIBUTES
from vqual.levels import GOOD_LEVELS, LEVEL_BOUNDS, LEVELS, POOR_LEVELS

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
#: A video clean as a whole but with noticeably worse seconds opens with this instead of `CLEAN_SENTENCE`, so that
#: "no distortion stands out" never stands next to a named one (`with_worst_moments`).
CLEAN_OVERALL_SENTENCE = "It looks clean as a whole; only some seconds stand out."
#: The answer when nothing measured reaches "noticeable" but the score is poor or bad: no distortion is invented
#: and the picture is not called clean.
LOW_SENTENCE = "No single distortion stands out, but the overall quality is low."
LOW_WORDS = ("quality is low", "low quality", "looks poor")

BANDS = ("none", "slight", "noticeable", "strong", "severe")
NOTICEABLE = 2  # the lowest band that may be named
SEVERE = 4
#: the answer word of each nameable band (noticeable, strong, severe)
SEVERITY_WORDS = BANDS[NOTICEABLE:]
#: words read as each band when checking any text (the answers use only `SEVERITY_WORDS`)
BAND_WORDS: dict[int, tuple[str, ...]] = {
    1: ("slight", "slightly", "mild", "mildly", "faint", "subtle", "minor", "a little", "a bit of"),
    2: ("noticeable", "noticeably", "visible", "moderate", "moderately"),
    3: ("strong", "strongly", "heavy", "heavily", "marked", "considerable", "significant"),
    4: ("severe", "severely", "extreme", "extremely", "very strong", "very heavy", "massive"),
}
#: Training answers (`compose`, scripts/train_lmm.py): an attribute at least this severe is named ...
MENTION = 0.35


def severity_word(v: float) -> str:
    """... with this word. The trained answer form only; explanations use the fitted bands (`SeverityBands`)."""
    return SEVERITY_WORDS[2] if v >= 0.85 else SEVERITY_WORDS[1 if v >= 0.6 else 0]


def compose(attributes: dict[str, float], top: int = 2) -> str:
    """The training answer for known synthetic severities in [0, 1] (scripts/train_lmm.py): the `top` strongest
    attributes at or above `MENTION` with `severity_word`, or the clean sentence. For measured attributes use
    `describe`, which follows the grounding rule."""
    named = sorted(((v, k) for k, v in attributes.items() if k in PHRASES and v >= MENTION), reverse=True)[:top]
    if not named:
        return CLEAN_SENTENCE
    return _sentence([f"{severity_word(v)} {PHRASES[k][0]}" for v, k in named])


def _sentence(parts: Sequence[str]) -> str:
    if len(parts) == 1:
        return f"The main problem is {parts[0]}."
    return f"The main problem is {parts[0]}, along with {parts[1]}."


def answer_sentences(media: str = "video") -> list[str]:
    """Every sentence of the trained answer form for `media`: the clean sentence, and one or two named problems at
    each severity word (an image's answers never name a temporal distortion)."""
    out = [CLEAN_SENTENCE]
    names = [k for k in PHRASES if media == "video" or k not in TEMPORAL_ATTRIBUTES]
    parts = [(k, f"{w} {PHRASES[k][0]}") for k in names for w in SEVERITY_WORDS]
    for k, a in parts:
        out.append(f"The main problem is {a}.")
        out += [f"The main problem is {a}, along with {b}." for k2, b in parts if k2 != k]
    return out


#: The trained answer form per media kind (every answer `grounded` can offer, except `LOW_SENTENCE`).
ANSWERS = {media: tuple(answer_sentences(media)) for media in ("image", "video")}


# ----------------------------------------------------------------------------------------------------------------
# severity bands
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SeverityBands:
    """Per attribute, four increasing thresholds on its measured 0-1 value: slight, noticeable, strong, severe."""

    thresholds: Mapping[str, tuple[float, float, float, float]]

    def __post_init__(self) -> None:
        for name, t in self.thresholds.items():
            if len(t) != 4 or not all(a < b for a, b in zip((0.0, *t), t)) or t[-1] >= 1.0:
                raise ValueError(f"severity thresholds of {name} must be four increasing values in (0, 1), got {t}")

    @classmethod
    @functools.cache
    def shipped(cls) -> SeverityBands:
        """The fitted thresholds in assets/lmm/severity_bands.json."""
        from vqual.weights import asset_path

        card = json.loads(asset_path("lmm/severity_bands.json").read_text())
        return cls({k: tuple(float(x) for x in v["thresholds"]) for k, v in card["attributes"].items()})

    def __contains__(self, name: str) -> bool:
        return name in self.thresholds

    def band(self, name: str, value: float) -> int:
        """0 (none) ... 4 (severe): how many of the attribute's thresholds `value` reaches."""
        return sum(value >= t for t in self.thresholds[name])

    def severity(self, name: str, value: float) -> float:
        """The calibrated severity in [0, 1]: piecewise linear through (0, 0), (t1, 0.2) ... (t4, 0.8), (1, 1)."""
        t = self.thresholds[name]
        return float(np.interp(min(max(value, 0.0), 1.0), (0.0, *t, 1.0), (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)))

    def measure(self, attributes: Mapping[str, float], media: str = "video") -> dict[str, tuple[int, float]]:
        """attribute -> (band, calibrated severity) for every attribute that has bands and a phrase (an image has no
        temporal attributes)."""
        return {k: (self.band(k, float(v)), self.severity(k, float(v))) for k, v in attributes.items()
                if k in self.thresholds and k in PHRASES and (media == "video" or k not in TEMPORAL_ATTRIBUTES)}


def _bands(bands: SeverityBands | None) -> SeverityBands:
    return SeverityBands.shipped() if bands is None else bands


def level_of_score(score: float) -> str:
    """The level whose bin holds a 1-5 score (`LEVEL_BOUNDS`); here a score on a bound reads as the level below it
    (4.5 is good), the rule explanations have always used."""
    return LEVELS[len(LEVEL_BOUNDS) - int(np.searchsorted(LEVEL_BOUNDS, float(score), side="left"))]


def level_ceiling(attributes: Mapping[str, float], bands: SeverityBands | None = None) -> str | None:
    """The best level the measurements allow: "fair" when some attribute is severe (a severe distortion rules out
    good and excellent), else None (no limit)."""
    measured = _bands(bands).measure(attributes)
    return "fair" if any(b >= SEVERE for b, _ in measured.values()) else None


def strongest(measured: Mapping[str, tuple[int, float]]) -> list[str]:
    """The attributes with the highest calibrated severity among those at least noticeable (several on a tie)."""
    named = {k: s for k, (b, s) in measured.items() if b >= NOTICEABLE}
    if not named:
        return []
    top = max(named.values())
    return [k for k in PHRASES if k in named and named[k] == top]


def _part(name: str, band: int) -> str:
    return f"{BANDS[band]} {PHRASES[name][0]}"


def grounded(media: str, score: float, attributes: Mapping[str, float], *, level: str | None = None,
             bands: SeverityBands | None = None) -> tuple[str, ...]:
    """The answers the grounding rule allows for this score (or `level`) and these measured attributes, in the
    trained answer form: what the constrained decoder chooses from.

    Nothing noticeable: only the clean sentence, or `LOW_SENTENCE` for a poor or bad level. Otherwise: the
    strongest distortion with its band's word, alone or followed by one other noticeable distortion with its word.
    (When the level is good or excellent and the strongest is severe, no answer can agree with both; the answers
    are still offered and `check` reports the disagreement. `vqual-lmm` avoids this with `level_ceiling`.)"""
    lvl = level or level_of_score(score)
    measured = _bands(bands).measure(attributes, media)
    top = strongest(measured)
    if not top:
        return (LOW_SENTENCE,) if lvl in POOR_LEVELS else (CLEAN_SENTENCE,)
    others = [k for k in PHRASES if k in measured and measured[k][0] >= NOTICEABLE]
    out: list[str] = []
    for first in top:
        head = _part(first, measured[first][0])
        out.append(_sentence([head]))
        out += [_sentence([head, _part(k, measured[k][0])]) for k in others if k != first]
    return tuple(out)


def describe(attributes: Mapping[str, float], media: str = "image", *, score: float = 3.0,
             level: str | None = None, bands: SeverityBands | None = None) -> str:
    """The rule's plain answer, without a decoder: the strongest distortion, and the second strongest if it is
    noticeable too; or the clean (or low-quality) sentence. One of `grounded`'s answers."""
    B = _bands(bands)
    measured = B.measure(attributes, media)
    top = strongest(measured)
    if not top:
        return grounded(media, score, attributes, level=level, bands=B)[0]
    rest = sorted(((s, k) for k, (b, s) in measured.items() if b >= NOTICEABLE and k != top[0]),
                  key=lambda x: (-x[0], list(PHRASES).index(x[1])))
    parts = [_part(top[0], measured[top[0]][0])] + [_part(k, measured[k][0]) for _, k in rest[:1]]
    return _sentence(parts)


def _clock(t: float) -> str:
    return f"{t:.1f}".removesuffix(".0")


@dataclass
class Second:
    """One second of a video as the explanations see it."""

    index: int
    start: float
    end: float
    score: float
    attributes: Mapping[str, float]
    level: str | None = None  # None: the level of `score`


def worst_moments(seconds: Sequence[Second], n_worst: int = 3, *, bands: SeverityBands | None = None,
                  limit: int = 3) -> str | None:
    """Where a video is worst, by the rule: among its `n_worst` lowest-scoring seconds (ties: the earlier), those
    whose strongest distortion is at least noticeable, grouped into runs of consecutive seconds with the same
    distortion and band, e.g. "Worst moments: strong stutter at 4-6 s; noticeable blur at 9-10 s." (None when no
    worst second has a noticeable distortion)."""
    B = _bands(bands)
    worst = sorted(sorted(seconds, key=lambda s: (s.score, s.index))[:n_worst], key=lambda s: s.index)
    runs: list[list] = []  # [name, band, first index, last index, start, end]
    for s in worst:
        measured = B.measure(s.attributes)
        top = strongest(measured)
        if not top:
            continue
        name, band = top[0], measured[top[0]][0]
        if runs and runs[-1][:2] == [name, band] and runs[-1][3] == s.index - 1:
            runs[-1][3], runs[-1][5] = s.index, s.end
        else:
            runs.append([name, band, s.index, s.index, s.start, s.end])
    if not runs:
        return None
    items = [f"{display(_part(name, band))} at {_clock(t0)}-{_clock(t1)} s" for name, band, _, _, t0, t1 in runs]
    return "Worst moments: " + "; ".join(items[:limit]) + "."


def with_worst_moments(sentence: str, where: str | None) -> str:
    """A video's explanation: the grounded sentence on its pooled measurements, then where it is worst
    (`worst_moments`). When the video is clean as a whole but some of its worst seconds reach "noticeable", the clean
    sentence becomes `CLEAN_OVERALL_SENTENCE`: both statements hold (pooled and per second), and the text no longer
    reads as "no distortion stands out" followed by a named one."""
    if not where:
        return sentence
    return f"{CLEAN_OVERALL_SENTENCE if sentence == CLEAN_SENTENCE else sentence} {where}"


_ARTICLE_AFTER_SEVERITY = re.compile(r"\b(" + "|".join(SEVERITY_WORDS) + r") (a|an) ")


def display(sentence: str) -> str:
    """The sentence as shown to people. Answers are trained as "<severity> <phrase>", which puts a countable
    phrase's article after the severity word ("noticeable a colour cast"); this moves it in front ("a noticeable
    colour cast"). Only word order changes, so the decoder's choice and what the check reads are the same."""
    return _ARTICLE_AFTER_SEVERITY.sub(lambda m: f"{m.group(2)} {m.group(1)} ", sentence)


# ----------------------------------------------------------------------------------------------------------------
# reading text back
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class Mention:
    """A distortion named in a text: which, the band its severity word says (None: no word), where in the text, and
    the seconds it is placed at ("at 4-6 s"), if any."""

    attribute: str
    band: int | None
    position: int
    start: float | None = None
    end: float | None = None


@dataclass
class Reading:
    mentions: list[Mention]
    clean: bool  # says it looks clean / no distortion
    low: bool  # says the overall quality is low


def _norm(text: str) -> str:
    return " " + re.sub(r"\s+", " ", text.lower()) + " "


_CLAUSE_SPLIT = re.compile(r"\.(?!\d)|[;,:!?]|\band\b|\balong with\b|\bbut\b|\bwith\b")
_AT_TIME = re.compile(r"\bat (\d+(?:\.\d+)?)\s*(?:-|–|to)\s*(\d+(?:\.\d+)?)\s*s\b|\bat (\d+(?:\.\d+)?)\s*s\b")


def _word_spans(t: str, words: Sequence[str]) -> list[tuple[int, int]]:
    spans = []
    for w in words:
        for m in re.finditer(r"(?<![a-z])" + re.escape(w), t):
            spans.append((m.start(), m.end()))
    return spans


def read(text: str) -> Reading:
    """Parse an explanation: the distortions it names in order, each with its severity word's band and time span,
    and whether it calls the picture clean or its quality low. Independent of how the text was made."""
    t = _norm(text)
    # distortion names: the longest match wins where names overlap ("colour cast" over "colour", "dropped frame"
    # over "dropped")
    found = []
    for name, (_, words) in PHRASES.items():
        for a, b in _word_spans(t, words):
            found.append((a, b, name))
    found.sort(key=lambda x: (x[0], -(x[1] - x[0])))
    bounds = [0] + [m.end() for m in _CLAUSE_SPLIT.finditer(t)] + [len(t)]
    clause_of = lambda pos: max(i for i, b in enumerate(bounds) if b <= pos)  # noqa: E731
    names: list[tuple[int, int, str]] = []
    for a, b, name in found:
        if names and a < names[-1][1]:
            continue  # inside the previous match
        if any(n == name and clause_of(na) == clause_of(a) for na, _, n in names):
            continue  # the same distortion again in one clause ("compression artefacts")
        names.append((a, b, name))
    severity = sorted(((a, b, band) for band, words in BAND_WORDS.items() for a, b in _word_spans(t, words)),
                      key=lambda x: (x[0], -(x[1] - x[0])))
    mentions = []
    for a, b, name in names:
        clause = clause_of(a)
        words = [(sa, band) for sa, sb, band in severity if sb <= a and clause_of(sa) == clause]
        band = words[-1][1] if words else None  # the nearest severity word before the name, in its clause
        end_of_clause = min([x for x in bounds if x > a] or [len(t)])
        m_at = _AT_TIME.search(t, b, end_of_clause)
        start = end = None
        if m_at and not any(b <= na < m_at.start() for na, _, _ in names):
            if m_at.group(3) is not None:
                start = float(m_at.group(3))
                end = start + 1.0
            else:
                start, end = float(m_at.group(1)), float(m_at.group(2))
        mentions.append(Mention(name, band, a, start, end))
    return Reading(mentions=mentions, clean=any(w in t for w in CLEAN_WORDS), low=any(w in t for w in LOW_WORDS))


def mentioned(text: str) -> list[str]:
    """Attributes an explanation names, in PHRASES order."""
    named = {m.attribute for m in read(text).mentions}
    return [k for k in PHRASES if k in named]


def says_clean(text: str) -> bool:
    return read(text).clean


# ----------------------------------------------------------------------------------------------------------------
# the strict check
# ----------------------------------------------------------------------------------------------------------------
#: Kinds of contradiction `check` reports.
KINDS = ("named_but_absent", "wrong_severity_word", "strongest_not_named", "clean_but_distorted", "level_disagrees")


@dataclass
class Contradiction:
    kind: str  # one of KINDS
    detail: str  # one line, for people
    attribute: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "attribute": self.attribute, "detail": self.detail}


@dataclass
class Check:
    """The outcome of reading an explanation back against the result it explains."""

    consistent: bool
    mentioned: list[str] = field(default_factory=list)
    contradictions: list[Contradiction] = field(default_factory=list)
    bands: dict[str, str] = field(default_factory=dict)  # measured band of each attribute

    @property
    def problems(self) -> list[str]:
        return [f"{c.kind}: {c.detail}" for c in self.contradictions]

    @property
    def kinds(self) -> list[str]:
        return [c.kind for c in self.contradictions]

    def as_dict(self) -> dict:
        return {"consistent": self.consistent, "mentioned": list(self.mentioned), "problems": self.problems,
                "contradictions": [c.as_dict() for c in self.contradictions], "bands": dict(self.bands)}


def _word(band: int | None) -> str:
    return "no severity word" if band is None else f'"{BANDS[band]}"'


def check(text: str, score: float, attributes: Mapping[str, float], *, level: str | None = None,
          timeline: Sequence[Second] | None = None, media: str | None = None,
          bands: SeverityBands | None = None) -> Check:
    """Read `text` back against the score (1-5; or its `level`) and the measured `attributes` (and, for mentions
    placed in time, the `timeline`), by the grounding rule (module docstring). Every contradiction is reported with
    its kind (`KINDS`). `media` "image" means temporal attributes count as absent (default: "video" when a
    temporal attribute was measured)."""
    B = _bands(bands)
    lvl = level or level_of_score(score)
    if media is None:
        media = "video" if any(k in attributes for k in TEMPORAL_ATTRIBUTES) else "image"
    measured = B.measure(attributes, media)
    reading = read(text)
    out: list[Contradiction] = []

    def compare(m: Mention, band: int, where: str) -> None:
        value = f"measured {BANDS[band]}"
        if band < NOTICEABLE:
            out.append(Contradiction("named_but_absent", f"names {m.attribute}{where} but it is {value}",
                                     m.attribute))
        elif m.band != band:
            out.append(Contradiction("wrong_severity_word", f"calls {m.attribute}{where} {_word(m.band)} but it is "
                                                            f"{value}", m.attribute))

    untimed = [m for m in reading.mentions if m.start is None]
    for m in untimed:
        compare(m, measured.get(m.attribute, (0, 0.0))[0], "")
    for m in reading.mentions:
        if m.start is None:
            continue
        where = f" at {_clock(m.start)}-{_clock(m.end)} s"
        secs = [s for s in (timeline or []) if s.start < m.end - 1e-6 and s.end > m.start + 1e-6]
        if not secs:
            out.append(Contradiction("named_but_absent", f"names {m.attribute}{where}, a time the video does not "
                                                         "have", m.attribute))
            continue
        for s in secs:
            band = B.measure(s.attributes).get(m.attribute, (0, 0.0))[0]
            if band < NOTICEABLE or band != m.band:
                compare(m, band, f"{where} (second {s.index})")
                break
        if m.band == SEVERE and any((s.level or level_of_score(s.score)) in GOOD_LEVELS for s in secs):
            out.append(Contradiction("level_disagrees", f"calls {m.attribute}{where} severe but a second there is "
                                                        "good or excellent", m.attribute))
    top = strongest(measured)
    if reading.clean and top:
        worst = top[0]
        out.append(Contradiction("clean_but_distorted", f"calls it clean but {worst} is measured "
                                                        f"{BANDS[measured[worst][0]]}", worst))
    if top and not reading.clean and (not untimed or untimed[0].attribute not in top):
        said = f"names {untimed[0].attribute} first" if untimed else "names no distortion"
        out.append(Contradiction("strongest_not_named", f"{said} but the strongest is {top[0]} "
                                                        f"({BANDS[measured[top[0]][0]]})", top[0]))
    if reading.clean and lvl in POOR_LEVELS:
        out.append(Contradiction("level_disagrees", f"calls it clean but its level is {lvl}"))
    if reading.low and lvl not in POOR_LEVELS:
        out.append(Contradiction("level_disagrees", f"calls its quality low but its level is {lvl}"))
    severe = [m.attribute for m in untimed if m.band == SEVERE]
    if severe and lvl in GOOD_LEVELS:
        out.append(Contradiction("level_disagrees", f"calls {severe[0]} severe but its level is {lvl}", severe[0]))
    if lvl in POOR_LEVELS and not (reading.mentions or reading.clean or reading.low):
        out.append(Contradiction("level_disagrees", f"names no problem and says nothing of a {lvl} quality"))
    return Check(consistent=not out, mentioned=mentioned(text), contradictions=out,
                 bands={k: BANDS[b] for k, (b, _) in measured.items()})
