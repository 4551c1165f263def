"""Partial credit for multi-part answers, after StructVRM (ByteDance Seed, arXiv 2508.05383).

StructVRM scores each sub-question of a problem separately, s_j = 1[ŷ_j ≡ y_j], and rewards
the aggregate of the score vector; here the aggregate is the mean (ALGORITHMS.md §17a):

    r = (1/K) Σ_j s_j            (option `all_or_nothing`: r = Π_j s_j)

StructVRM's judge is a trained model; here each part is compared as by the `math` verifier
(math-verify, gold first). The reference holds the K sub-answers: a list, a dict
{part name: answer}, or a string of answers separated by `;`.

The completion's sub-answers are its complete `\\boxed{}` contents. They go to the parts in
order — unless every box is labelled, by the last part marker between it and the previous
box ("(a)", "(2)", "Part b", or "b)" / "2)" at the start of a line; or a dict key in
parentheses), each label names a different part, and then box j goes to the part its label
names, so "(b) \\boxed{6} (a) \\boxed{7}" is read correctly. More boxes than parts is a hedge
and earns 0; a part without a box is wrong.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from rlvr.verifiers.base import Verdict
from rlvr.verifiers.extract import boxed_regions, strip_answer, strip_echoes
from rlvr.verifiers.math import MAX_ANSWER_CHARS

METRIC_PREFIX = "partial/"
SHOWN_CHARS = 40
# a part marker: "(a)" / "(12)" / "(key)" after the start, a space or punctuation (so "f(x)" is
# not one), "Part a", or "a)" / "2)" opening a line
_LABEL = re.compile(r"(?:(?:^|(?<=[\s:;,.*]))\((?P<paren>[A-Za-z0-9_]{1,12})\)"
                    r"|\bpart\s+(?P<word>[a-z]|\d{1,2})\b"
                    r"|(?:^|(?<=\n))[ \t]*(?P<line>[a-z]|\d{1,2})\))", re.IGNORECASE)


def reference_parts(reference: Any, separator: str = ";") -> list[tuple[str, str]]:
    """(part name, answer) of each part: a list's items are parts a, b, c…; a dict's keys name
    its parts; a string is split at `separator`."""
    if isinstance(reference, dict):
        parts = [(str(k), str(v)) for k, v in reference.items()]
    elif isinstance(reference, (list, tuple)):
        parts = [(_letter(j), str(v)) for j, v in enumerate(reference)]
    elif reference is None:
        parts = []
    else:
        pieces = [p.strip() for p in str(reference).split(separator)] if separator else [str(reference).strip()]
        parts = [(_letter(j), p) for j, p in enumerate(pieces)]
    if not parts or any(not a.strip() for _, a in parts):
        raise ValueError(f"reference {reference!r} has no parts, or an empty one")
    return parts


def _letter(j: int) -> str:
    return chr(ord("a") + j) if j < 26 else str(j + 1)


def _part_index(label: str, names: list[str]) -> int | None:
    """The part a marker names: a part's own name, a letter (a = first) or a number (1 = first)."""
    low = label.lower()
    lowered = [n.lower() for n in names]
    if low in lowered:
        return lowered.index(low)
    if len(low) == 1 and "a" <= low <= "z":
        j = ord(low) - ord("a")
    elif low.isdigit():
        j = int(low) - 1
    else:
        return None
    return j if 0 <= j < len(names) else None


def boxed_answers(completion: str) -> list[tuple[str, str | None]]:
    """(content, marker before it or None) of every complete box, in order; an unclosed box
    and what follows it are ignored."""
    out, prev_end = [], 0
    for start, content, end in boxed_regions(completion):
        if content is None:
            break
        label = None
        for m in _LABEL.finditer(completion, prev_end, max(prev_end, start)):
            label = m.group("paren") or m.group("word") or m.group("line")
        out.append((content, label))
        prev_end = end
    return out


def assign(boxes: list[tuple[str, str | None]], names: list[str]) -> tuple[list[str | None], str]:
    """The completion's answer to each part, and how it was matched ("label" or "order")."""
    K = len(names)
    targets = [_part_index(label, names) if label is not None else None for _, label in boxes]
    if boxes and None not in targets and len(set(targets)) == len(targets):
        answers: list[str | None] = [None] * K
        for (content, _), j in zip(boxes, targets):
            answers[j] = content
        return answers, "label"
    return [c for c, _ in boxes] + [None] * (K - len(boxes)), "order"


class PartialVerifier:
    name = "partial"
    # a list or dict of parts, or one string (or number) split by `separator`
    reference_types = (list, tuple, dict, str, int, float)

    def __init__(self, *, all_or_nothing: bool = False, separator: str = ";", timeout_s: int = 3) -> None:
        """`all_or_nothing`: reward 1 only when every part is right (else the fraction right).
        `separator`: splits a string reference into parts. `timeout_s`: math-verify's own
        limit per parse and comparison (the pool's hard limit applies on top)."""
        self.all_or_nothing = bool(all_or_nothing)
        self.separator = separator
        self.timeout_s = timeout_s
        self._gold: dict[str, list] = {}  # references recur across a group: parse each once

    def prepare(self) -> None:
        import math_verify  # noqa: F401 — SymPy loads now, not inside the first timed call

    def _parse_gold(self, text: str) -> list:
        from math_verify import parse

        if text not in self._gold:
            gold = parse(f"${text}$", parsing_timeout=self.timeout_s)
            if not gold:
                raise ValueError(f"reference part {text!r} could not be parsed")
            self._gold[text] = gold
        return self._gold[text]

    def _part_correct(self, gold_text: str, answer: str | None) -> bool:
        from math_verify import parse, verify

        if answer is None:
            return False
        a = strip_answer(answer)
        if not a or len(a) > MAX_ANSWER_CHARS:
            return False
        gold = self._parse_gold(gold_text)
        if a.replace(" ", "") == gold_text.strip().replace(" ", ""):
            return True
        pred = parse(f"${a}$", parsing_timeout=self.timeout_s)
        return bool(pred and verify(gold, pred, timeout_seconds=self.timeout_s))

    def __call__(self, completion: str, reference: Any, meta: dict | None = None) -> Verdict:
        parts = reference_parts(reference, self.separator)
        names = [n for n, _ in parts]
        K = len(parts)
        meta = meta or {}  # boxes copied from the prompt (e.g. its "in its own \\boxed{}" hint) are not answers
        completion, _ = strip_echoes(completion, str(meta.get("context") or meta.get("prompt") or ""))
        boxes = boxed_answers(completion)
        if len(boxes) > K:
            return Verdict(0.0, {"reason": "too_many_answers", "parts": [False] * K, "boxes": len(boxes)})
        answers, how = assign(boxes, names)
        correct = [self._part_correct(gold, a) for (_, gold), a in zip(parts, answers)]
        right = sum(correct)
        reward = float(right == K) if self.all_or_nothing else right / K
        info: dict[str, Any] = {"parts": correct, "answers": [None if a is None else a[:SHOWN_CHARS] for a in answers],
                                "matched_by": how}
        if not boxes:
            info["reason"] = "no_answer"
        return Verdict(reward, info)


def partial_metrics(verdicts: Iterable[Verdict]) -> dict[str, float]:
    """Step metrics from `partial` verdicts: `all_correct_frac` (completions with every part
    right) and `part_accuracy` (parts right over all parts). Verdicts without per-part results
    (errors, timeouts) are skipped."""
    per = [v.info["parts"] for v in verdicts if isinstance(v.info.get("parts"), list) and v.info["parts"]]
    if not per:
        return {}
    return {METRIC_PREFIX + "all_correct_frac": sum(all(p) for p in per) / len(per),
            METRIC_PREFIX + "part_accuracy": sum(sum(p) for p in per) / sum(len(p) for p in per)}
