"""Procedural multi-part problems: two or three arithmetic sub-questions per prompt, labelled
(a), (b), (c), whose reference is the list of their answers — the shape of problem that the
`partial` verifier gives partial credit for (StructVRM, arXiv 2508.05383).

The sub-questions come from the arithmetic task's generator (same operand range, operations
and word problems, `data.arithmetic`); the parts of one prompt are distinct, so answering in
the wrong order costs credit. As in `arithmetic.py`, item i depends only on (seed, i) and a
prompt's split is a stable hash — of its ordered sub-questions, not of its wording, so that no
held-out prompt appears in training, not even as a word problem with other names. (A single
sub-question may recur in both splits inside different combinations.)
"""
from __future__ import annotations

import random

from rlvr.data.arithmetic import Problem, draw_problem, hash_split, word_problem
from rlvr.types import Sample

FORMAT_HINT = "Answer each part in its own \\boxed{} in order."


def split_of(parts: list[Problem], eval_fraction: float) -> str:
    return hash_split("; ".join(p.expression for p in parts), eval_fraction)


class MultipartTask:
    """`task[i]` is the i-th multi-part prompt of `split` ("train" or "eval") for `seed`."""

    def __init__(self, *, seed: int, split: str = "train", min_parts: int = 2, max_parts: int = 3,
                 min_operand: int = 10, max_operand: int = 99, ops: tuple[str, ...] | list[str] = ("+", "-"),
                 word_problems: bool = False, eval_fraction: float = 0.1) -> None:
        if split not in ("train", "eval"):
            raise ValueError(f"split must be 'train' or 'eval', got {split!r}")
        if not 1 <= min_parts <= max_parts <= 26:
            raise ValueError(f"need 1 ≤ min_parts ≤ max_parts ≤ 26, got {min_parts}, {max_parts}")
        self.seed, self.split = seed, split
        self.min_parts, self.max_parts = min_parts, max_parts
        self.lo, self.hi, self.ops = min_operand, max_operand, tuple(ops)
        self.word_problems, self.eval_fraction = word_problems, eval_fraction

    def _parts(self, rng: random.Random) -> list[Problem]:
        k = rng.randint(self.min_parts, self.max_parts)
        parts: list[Problem] = []
        for _ in range(100 * k):  # distinct sub-questions; a tiny operand range may not have k
            p = draw_problem(rng, self.lo, self.hi, self.ops)
            if p not in parts:
                parts.append(p)
                if len(parts) == k:
                    return parts
        raise ValueError(f"cannot draw {k} distinct sub-questions from operands {self.lo}..{self.hi} "
                         f"and ops {self.ops}; widen the range or lower max_parts")

    def _text(self, parts: list[Problem], rng: random.Random) -> str:
        lines = [f"({chr(ord('a') + j)}) " + (word_problem(p, rng) if self.word_problems else
                                               f"What is {p.expression}?") for j, p in enumerate(parts)]
        return "\n".join([*lines, FORMAT_HINT])

    def __getitem__(self, i: int) -> Sample:
        rng = random.Random(f"multipart:{self.seed}:{i}")
        for _ in range(10_000):  # rejection into this split, as in the arithmetic task
            parts = self._parts(rng)
            if split_of(parts, self.eval_fraction) == self.split:
                text = self._text(parts, rng)
                return Sample(prompt=text, answer=[str(p.answer) for p in parts],
                              meta={"task": "multipart", "parts": [p.expression for p in parts], "index": i})
        raise ValueError(f"the {self.split} split of this multi-part task is (nearly) empty; "
                         "widen the operand range or change eval_fraction")

    def take(self, n: int, start: int = 0) -> list[Sample]:
        return [self[i] for i in range(start, start + n)]
