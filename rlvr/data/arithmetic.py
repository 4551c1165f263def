"""Procedural arithmetic problems with exact integer answers, seeded and endless.

Item i of a task depends only on (seed, i), so a run can resume at any position. Every
distinct problem belongs to exactly one split, chosen by a stable hash of its text: the
held-out problems can never appear in training, whatever seeds the two streams use.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from rlvr.types import Sample

NAMES = ["Ana", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hugo", "Ines", "Jun"]
THINGS = ["apples", "marbles", "stickers", "books", "coins", "shells", "pencils", "cards"]


@dataclass(frozen=True)
class Problem:
    a: int
    op: str
    b: int

    @property
    def answer(self) -> int:
        return {"+": self.a + self.b, "-": self.a - self.b, "*": self.a * self.b}[self.op]

    @property
    def expression(self) -> str:
        return f"{self.a} {self.op} {self.b}"


def hash_split(key: str, eval_fraction: float) -> str:
    """"eval" or "train" for a problem identified by `key`: a stable hash, so the two splits are
    disjoint whatever the seeds."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return "eval" if int.from_bytes(digest, "big") / 2**64 < eval_fraction else "train"


def split_of(problem: Problem, eval_fraction: float) -> str:
    return hash_split(problem.expression, eval_fraction)


def draw_problem(rng: random.Random, lo: int, hi: int, ops: tuple[str, ...]) -> Problem:
    """Two operands in [lo, hi] and an operation; subtraction never goes below zero."""
    a, b = rng.randint(lo, hi), rng.randint(lo, hi)
    op = rng.choice(ops)
    if op == "-" and b > a:
        a, b = b, a
    return Problem(a, op, b)


def word_problem(p: Problem, rng: random.Random) -> str:
    name, thing = rng.choice(NAMES), rng.choice(THINGS)
    if p.op == "+":
        return f"{name} has {p.a} {thing} and gets {p.b} more. How many {thing} does {name} have now?"
    if p.op == "-":
        return f"{name} has {p.a} {thing} and gives away {p.b}. How many {thing} does {name} have left?"
    return f"{name} has {p.a} boxes with {p.b} {thing} in each. How many {thing} does {name} have in all?"


class ArithmeticTask:
    """`task[i]` is the i-th problem of `split` ("train" or "eval") for `seed`."""

    def __init__(self, *, seed: int, split: str = "train", min_operand: int = 10,
                 max_operand: int = 99, ops: tuple[str, ...] | list[str] = ("+", "-"),
                 word_problems: bool = False, eval_fraction: float = 0.1) -> None:
        if split not in ("train", "eval"):
            raise ValueError(f"split must be 'train' or 'eval', got {split!r}")
        self.seed, self.split = seed, split
        self.lo, self.hi, self.ops = min_operand, max_operand, tuple(ops)
        self.word_problems, self.eval_fraction = word_problems, eval_fraction

    def problem(self, i: int) -> tuple[Problem, random.Random]:
        rng = random.Random(f"arithmetic:{self.seed}:{i}")
        for _ in range(10_000):  # rejection into this split; ~10 tries for the small split
            p = draw_problem(rng, self.lo, self.hi, self.ops)
            if split_of(p, self.eval_fraction) == self.split:
                return p, rng
        raise ValueError(f"the {self.split} split of this arithmetic task is (nearly) empty; "
                         "widen the operand range or change eval_fraction")

    def __getitem__(self, i: int) -> Sample:
        p, rng = self.problem(i)
        text = word_problem(p, rng) if self.word_problems else f"What is {p.expression}?"
        return Sample(prompt=text, answer=str(p.answer),
                      meta={"task": "arithmetic", "a": p.a, "op": p.op, "b": p.b, "index": i})

    def take(self, n: int, start: int = 0) -> list[Sample]:
        return [self[i] for i in range(start, start + n)]
