"""Math answers checked for equivalence with `math-verify` (huggingface/Math-Verify).

The answer is the content of the last `\\boxed{}` / `\\fbox{}` (or, without a box, what
follows the last "the answer is" / "final answer:"; or the last match of `answer_pattern`),
stripped of `$…$`, a trailing unit and a full stop, parsed to SymPy and compared with the
reference: `0.5` equals `\\frac{1}{2}`. Gold goes first in `verify` — the comparison is
asymmetric by design (ALGORITHMS.md §15d).

Hacking guard: a completion that boxes several *different* answers ("\\boxed{41} or maybe
\\boxed{42}") gets no credit, whichever is last — otherwise a policy learns to hedge.

Prompt echo: an answer copied from the prompt (the worked example's `\\boxed{}` repeated
verbatim, see `extract.strip_echoes`) is ignored; `meta["context"]` (or `meta["prompt"]`)
holds what the policy saw. `info["echoed"]` counts the answers ignored.
"""
from __future__ import annotations

from typing import Any, Callable

from rlvr.verifiers.base import NUMBER_OR_TEXT, Verdict
from rlvr.verifiers.extract import answer_phrase, boxed_contents, last_match, strip_answer, strip_echoes

MAX_ANSWER_CHARS = 1000  # a longer "answer" is not an answer; parsing it only costs time


class MathVerifier:
    name = "math"
    reference_types = NUMBER_OR_TEXT  # the reference is parsed as a math expression

    def __init__(self, *, answer_pattern: str = "", timeout_s: int = 3, hacking_guard: bool = True,
                 answer_phrases: bool = True) -> None:
        """`answer_pattern`: a regex whose last match (group 1 if any) is the answer; empty
        means the last `\\boxed{}`. `timeout_s`: math-verify's own parse/compare limit
        (the pool's hard limit still applies on top). `hacking_guard`: several different
        boxed answers earn nothing. `answer_phrases`: without a box, accept "the answer
        is X" / "final answer: X"."""
        self.answer_pattern = answer_pattern
        self.timeout_s = timeout_s
        self.hacking_guard = hacking_guard
        self.answer_phrases = answer_phrases

    def prepare(self) -> None:
        """Import the parser ahead of the first (timed) call; SymPy takes a second or two."""
        import math_verify  # noqa: F401

    def extract(self, completion: str) -> str | None:
        if self.answer_pattern:
            return last_match(completion, self.answer_pattern)
        boxes = [b for b in boxed_contents(completion) if b is not None]
        if boxes:
            return strip_answer(boxes[-1])
        found = answer_phrase(completion) if self.answer_phrases else None
        return None if found is None else strip_answer(found)

    def several_answers(self, completion: str) -> list[str]:
        """The distinct boxed answers (after normalisation) when there is more than one."""
        if self.answer_pattern or not self.hacking_guard:
            return []
        distinct = list(dict.fromkeys(strip_answer(b).replace(" ", "") for b in boxed_contents(completion)
                                      if b is not None and b.strip()))
        return distinct if len(distinct) > 1 else []

    def guarded_answer(self, completion: str, meta: dict | None = None,
                       extract: Callable[[str], str | None] | None = None) -> tuple[str | None, dict]:
        """(the final answer, info) — or (None, info with the `reason` there is none): answers
        copied from the prompt are blanked (info `echoed` counts them), a hedge earns nothing,
        an empty or overlong answer is none. `extract` replaces `self.extract` (`strict` keeps
        units). Shared by the verifiers that read a final answer, so that they differ only in
        how they compare it."""
        meta = meta or {}
        completion, echoed = strip_echoes(completion, str(meta.get("context") or meta.get("prompt") or ""))
        info = {"echoed": echoed} if echoed else {}
        hedged = self.several_answers(completion)
        if hedged:
            return None, {"reason": "several_answers", "answers": [a[:40] for a in hedged[:5]], **info}
        answer = (extract or self.extract)(completion)
        if answer is None or not answer.strip():
            return None, {"reason": "answer_in_prompt_echo" if echoed else "no_answer", **info}
        if len(answer) > MAX_ANSWER_CHARS:
            return None, {"reason": "answer_too_long", "answer": answer[:80] + "…", **info}
        return answer, info

    def __call__(self, completion: str, reference: Any, meta: dict | None = None) -> Verdict:
        from math_verify import parse, verify

        answer, echo = self.guarded_answer(completion, meta)
        if answer is None:
            return Verdict(0.0, echo)
        gold = parse(f"${reference}$", parsing_timeout=self.timeout_s)
        if not gold:
            raise ValueError(f"reference answer {reference!r} could not be parsed")
        pred = parse(f"${answer}$", parsing_timeout=self.timeout_s)
        if not pred:
            return Verdict(0.0, {"reason": "unparsable", "answer": answer})
        ok = verify(gold, pred, timeout_seconds=self.timeout_s)
        return Verdict(1.0 if ok else 0.0, {"answer": answer, "correct": bool(ok), **echo})
