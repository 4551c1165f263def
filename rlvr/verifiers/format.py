"""Reward for a well-formed final answer, whatever its value.

Well formed: at least one complete, non-empty `\\boxed{}`, every box closed, all boxes agree
(several different final answers are a hedge, not an answer), and nothing but punctuation,
whitespace or end-of-sentence words after the last box.
"""
from __future__ import annotations

import re
from typing import Any

from rlvr.verifiers.base import ANY_REFERENCE, Verdict
from rlvr.verifiers.extract import boxed_spans, strip_echoes

_TAIL = re.compile(r"^[\s.,;:!$)\]]*$")


class FormatVerifier:
    name = "format"
    reference_types = ANY_REFERENCE  # the reference is not looked at

    def __init__(self, *, require_final: bool = True, box_only: bool = False) -> None:
        """`require_final`: the last box must end the completion (trailing punctuation is fine).
        `box_only`: reward 1 as soon as one closed, non-empty box exists, nothing else checked
        (the "box_only_format" reward of Spurious Rewards, arXiv 2506.10947)."""
        self.require_final = require_final
        self.box_only = box_only

    def __call__(self, completion: str, reference: Any = None, meta: dict | None = None) -> Verdict:
        meta = meta or {}  # a box copied from the prompt's worked example is not this answer's format
        completion, _ = strip_echoes(completion, str(meta.get("context") or meta.get("prompt") or ""))
        spans = boxed_spans(completion)
        boxes = [content for content, _ in spans]
        if self.box_only:
            ok = any(b is not None and b.strip() for b in boxes)
            return Verdict(1.0 if ok else 0.0, {} if ok else {"reason": "no_box"})
        if not boxes:
            return Verdict(0.0, {"reason": "no_box"})
        if any(b is None for b in boxes):
            return Verdict(0.0, {"reason": "unclosed_box"})
        if any(not b.strip() for b in boxes):
            return Verdict(0.0, {"reason": "empty_box"})
        if len({b.strip() for b in boxes}) > 1:
            return Verdict(0.0, {"reason": "several_answers"})
        if self.require_final:
            tail = completion[spans[-1][1]:]
            if not _TAIL.match(tail):
                return Verdict(0.0, {"reason": "text_after_answer"})
        return Verdict(1.0, {})
