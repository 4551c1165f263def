"""RISE's verification reward (Liu et al., "Trust, but Verify", arXiv 2505.13445).

The policy reads a question and one of its own solutions and rates it with a score in
`\\boxed{}`; the reference is the score the rule-based outcome verifier gave that solution
(`rlvr.self_verify` maps the verdict to "1", "-0.5", "-1" or "0"). The verification earns
its reward when the two scores are equal as numbers: `1`, `1.0`, `+1` and `$1$.` all rate a
solution 1, `-0.5`, `−0.5` (Unicode minus), `-1/2` and `-\\frac{1}{2}` all rate it −0.5.

Rewards (`reward`): `match` — 1 for the target score, else 0; `rise` — RISE's own
verification reward, the outcome scale applied to the rating: 1 for the target score, −0.5
for another (or unreadable) one, −1 for no score at all.
"""
from __future__ import annotations

import re
from fractions import Fraction
from typing import Any, Literal

from rlvr.verifiers.base import NUMBER_OR_TEXT, Verdict
from rlvr.verifiers.extract import last_boxed, last_match, strip_answer

MAX_SCORE_CHARS = 40  # a score is a short number; anything longer is not read as one

_DECIMAL = re.compile(r"[+-]?(?:\d{1,6}(?:\.\d{0,6})?|\.\d{1,6})")
_FRACTION = re.compile(r"([+-]?)(?:\\[dt]?frac\{(\d{1,6})\}\{(\d{1,6})\}|(\d{1,6})/(\d{1,6}))")


def parse_score(text: str) -> Fraction | None:
    """A rating as an exact number, or None when `text` is not a plain decimal or fraction."""
    if len(text) > MAX_SCORE_CHARS:
        return None
    s = strip_answer(text.strip().rstrip(".")).replace("\u2212", "-").replace(" ", "").replace("\\,", "")
    if _DECIMAL.fullmatch(s):
        return Fraction(s)
    m = _FRACTION.fullmatch(s)
    if m:
        num, den = (m.group(2), m.group(3)) if m.group(2) else (m.group(4), m.group(5))
        if int(den) == 0:
            return None
        value = Fraction(int(num), int(den))
        return -value if m.group(1) == "-" else value
    return None


class SelfVerifyVerifier:
    """Reward of one verification completion: its rating against the target `reference`."""

    name = "self_verify"
    reference_types = NUMBER_OR_TEXT  # the target score, as a number or its text

    def __init__(self, *, answer_pattern: str = "", reward: Literal["match", "rise"] = "match") -> None:
        """`answer_pattern`: a regex whose last match (group 1 if any) is the rating; empty
        means the last `\\boxed{}`. `reward`: `match` (1 or 0) or `rise` (1, −0.5 for a wrong
        or unreadable rating, −1 for none)."""
        if reward not in ("match", "rise"):
            raise ValueError(f"reward must be 'match' or 'rise', got {reward!r}")
        self.answer_pattern = answer_pattern
        self.reward = reward

    def extract(self, completion: str) -> str | None:
        if self.answer_pattern:
            return last_match(completion, self.answer_pattern)
        return last_boxed(completion)

    def __call__(self, completion: str, reference: Any, meta: dict | None = None) -> Verdict:
        target = parse_score(str(reference))
        if target is None:
            raise ValueError(f"target score {reference!r} is not a number")
        wrong, missing = (-0.5, -1.0) if self.reward == "rise" else (0.0, 0.0)
        found = self.extract(completion)
        if found is None or not found.strip():
            return Verdict(missing, {"reason": "no_score", "target": str(reference), "match": False})
        score = parse_score(found)
        if score is None:
            return Verdict(wrong, {"reason": "not_a_score", "score": found[:MAX_SCORE_CHARS],
                                   "target": str(reference), "match": False})
        match = score == target
        return Verdict(1.0 if match else wrong, {"score": found.strip(), "target": str(reference), "match": match})


def verification_metrics(verdicts: list[Verdict]) -> dict[str, float]:
    """The policy's verification accuracy (rating equal to the target) and the share of
    verifications that wrote no rating, over one step's verification completions."""
    n = max(1, len(verdicts))
    return {"self_verify/accuracy": sum(bool(v.info.get("match")) for v in verdicts) / n,
            "self_verify/no_score_frac": sum(v.info.get("reason") == "no_score" for v in verdicts) / n}
