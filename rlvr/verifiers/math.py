"""Math answers checked for equivalence with `math-verify` (huggingface/Math-Verify).

The answer is the content of the last `\\boxed{}` (or the last match of `answer_pattern`),
parsed to SymPy and compared with the reference: `0.5` equals `\\frac{1}{2}`. Gold goes
first in `verify` — the comparison is asymmetric by design (ALGORITHMS.md §15d).
"""
from __future__ import annotations

from typing import Any

from rlvr.verifiers.base import Verdict
from rlvr.verifiers.extract import last_boxed, last_match

MAX_ANSWER_CHARS = 1000  # a longer "answer" is not an answer; parsing it only costs time


class MathVerifier:
    name = "math"

    def __init__(self, *, answer_pattern: str = "", timeout_s: int = 3) -> None:
        """`answer_pattern`: a regex whose last match (group 1 if any) is the answer; empty
        means the last `\\boxed{}`. `timeout_s`: math-verify's own parse/compare limit
        (the pool's hard limit still applies on top)."""
        self.answer_pattern = answer_pattern
        self.timeout_s = timeout_s

    def prepare(self) -> None:
        """Import the parser ahead of the first (timed) call; SymPy takes a second or two."""
        import math_verify  # noqa: F401

    def extract(self, completion: str) -> str | None:
        if self.answer_pattern:
            return last_match(completion, self.answer_pattern)
        return last_boxed(completion)

    def __call__(self, completion: str, reference: Any, meta: dict | None = None) -> Verdict:
        from math_verify import parse, verify

        answer = self.extract(completion)
        if answer is None or not answer.strip():
            return Verdict(0.0, {"reason": "no_answer"})
        if len(answer) > MAX_ANSWER_CHARS:
            return Verdict(0.0, {"reason": "answer_too_long", "answer": answer[:80] + "…"})
        gold = parse(f"${reference}$", parsing_timeout=self.timeout_s)
        if not gold:
            raise ValueError(f"reference answer {reference!r} could not be parsed")
        pred = parse(f"${answer}$", parsing_timeout=self.timeout_s)
        if not pred:
            return Verdict(0.0, {"reason": "unparsable", "answer": answer})
        ok = verify(gold, pred, timeout_seconds=self.timeout_s)
        return Verdict(1.0 if ok else 0.0, {"answer": answer, "correct": bool(ok)})
