"""Exact-match answers: the low-recall, high-precision baseline of a verifier audit.

The answer is found exactly as `math` finds it (the last `\\boxed{}` / `\\fbox{}`, else "the
answer is …" / "final answer: …", or the last match of `answer_pattern`), and it earns 1
only when it is the same string as the reference after a light normalisation of both sides
— no math parsing, so `0.5` is not `\\frac{1}{2}`, `x = 3` is not `3`, `42 cm` is not `42`.
It shares `math`'s guards (several different boxed answers earn nothing; answers copied
from the prompt are ignored), so the two disagree only about equivalence.

Why have it: rule-based checkers trade recall for precision (Huang et al., "Pitfalls of
Rule- and Model-based Verifiers", arXiv 2505.22203; TinyV, arXiv 2505.14625, found over 38%
of rule-rejected answers correct). Comparing `math` or a model judge with a verifier that
accepts almost nothing wrong shows where the others gain recall and whether they pay for it
with false positives (`rlvr audit verifier`).
"""
from __future__ import annotations

from typing import Any

from rlvr.verifiers.base import NUMBER_OR_TEXT, Verdict
from rlvr.verifiers.extract import answer_phrase, boxed_contents, last_match
from rlvr.verifiers.math import MathVerifier

SHOWN_CHARS = 200  # of an answer quoted in `info`


def normalize(text: str) -> str:
    """Strip surrounding whitespace, surrounding `$` (`$3$`, `$$3$$`) and a trailing full
    stop, repeatedly until nothing changes: `" $3$. "` → `3`, `"$3.$"` → `3`. Nothing inside
    the answer changes (spaces, braces, case and units stay)."""
    previous = None
    while text != previous:  # every pass shortens the text, so this ends
        previous = text
        text = text.strip()
        if text.endswith("."):
            text = text[:-1]
        dollars = min(len(text) - len(text.lstrip("$")), len(text) - len(text.rstrip("$")))
        if dollars and len(text) > 2 * dollars:  # "$" or "$$" alone is left alone
            text = text[dollars:len(text) - dollars]
    return text


class StrictVerifier:
    name = "strict"
    reference_types = NUMBER_OR_TEXT  # compared as text after a light normalisation

    def __init__(self, *, answer_pattern: str = "", normalize: bool = True, hacking_guard: bool = True,
                 answer_phrases: bool = True) -> None:
        """`answer_pattern`: a regex whose last match (group 1 if any) is the answer; empty
        means the last `\\boxed{}`. `normalize`: strip whitespace, surrounding `$` and a
        trailing full stop from answer and reference before comparing (false: compare the
        extracted text as it is). `hacking_guard`: several different boxed answers earn
        nothing (as in `math`). `answer_phrases`: without a box, accept "the answer is X"."""
        self.answer_pattern = answer_pattern
        self.normalize = normalize
        self.answer_phrases = answer_phrases
        # the same hedging rule as `math`, so that the two disagree only on equivalence
        self._guard = MathVerifier(answer_pattern=answer_pattern, hacking_guard=hacking_guard)

    def extract(self, completion: str) -> str | None:
        """The raw answer text, before normalisation (`math`'s places, not its unit stripping)."""
        if self.answer_pattern:
            return last_match(completion, self.answer_pattern)
        boxes = [b for b in boxed_contents(completion) if b is not None]
        if boxes:
            return boxes[-1]
        return answer_phrase(completion) if self.answer_phrases else None

    def _clean(self, text: str) -> str:
        return normalize(text) if self.normalize else text

    def __call__(self, completion: str, reference: Any, meta: dict | None = None) -> Verdict:
        if reference is None or isinstance(reference, (bool, dict, list)):
            raise ValueError(f"strict needs a string or number reference, got {reference!r:.80}")
        # the same guards as `math` (prompt echo, hedging, length), so the two differ only in the comparison
        answer, echo = self._guard.guarded_answer(completion, meta, extract=self.extract)
        if answer is None:
            return Verdict(0.0, echo)
        answer, gold = self._clean(answer), self._clean(str(reference))
        if not answer:  # "\\boxed{.}" — nothing left to compare
            return Verdict(0.0, {"reason": "no_answer"})
        ok = answer == gold
        return Verdict(1.0 if ok else 0.0, {"answer": answer[:SHOWN_CHARS], "correct": ok, **echo})
