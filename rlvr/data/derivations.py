"""Procedural step-by-step derivations: a long reference answer that no rule checks.

A problem is a chain such as `7 + 12 - 5 + 3`; its reference answer is the whole derivation,
one step per line, ending with the boxed result:

    7 + 12 = 19
    19 - 5 = 14
    14 + 3 = 17
    The answer is \\boxed{17}.

This is the long-answer setting of JEPO (arXiv 2503.19618 §5): the training signal is the
likelihood of the reference derivation, not a verifier's verdict. (The final boxed number still
lets the held-out evaluation measure accuracy with the math verifier.) Item i depends only on
(seed, i); problems are split into train/eval by a hash of their text, as the arithmetic task.
"""
from __future__ import annotations

import hashlib
import random

from rlvr.types import Sample


def derivation(terms: list[int], ops: list[str]) -> tuple[str, int]:
    """The reference text of `terms[0] ops[0] terms[1] ...` and its value."""
    lines, value = [], terms[0]
    for op, t in zip(ops, terms[1:]):
        new = value + t if op == "+" else value - t
        lines.append(f"{value} {op} {t} = {new}")
        value = new
    lines.append(f"The answer is \\boxed{{{value}}}.")
    return "\n".join(lines), value


class DerivationTask:
    """`task[i]` is the i-th chain problem of `split` ("train" or "eval") for `seed`."""

    def __init__(self, *, seed: int, split: str = "train", min_terms: int = 3, max_terms: int = 4,
                 max_operand: int = 20, eval_fraction: float = 0.1) -> None:
        if split not in ("train", "eval"):
            raise ValueError(f"split must be 'train' or 'eval', got {split!r}")
        self.seed, self.split = seed, split
        self.min_terms, self.max_terms, self.max_operand = min_terms, max_terms, max_operand
        self.eval_fraction = eval_fraction

    def _draw(self, rng: random.Random) -> tuple[list[int], list[str]]:
        n = rng.randint(self.min_terms, self.max_terms)
        terms, ops, value = [rng.randint(1, self.max_operand)], [], 0
        value = terms[0]
        for _ in range(n - 1):
            t = rng.randint(1, self.max_operand)
            op = rng.choice("+-") if t <= value else "+"  # running value stays non-negative
            terms.append(t)
            ops.append(op)
            value = value + t if op == "+" else value - t
        return terms, ops

    def __getitem__(self, i: int) -> Sample:
        rng = random.Random(f"derivations:{self.seed}:{i}")
        for _ in range(10_000):  # rejection into this split
            terms, ops = self._draw(rng)
            expression = " ".join([str(terms[0])] + [f"{o} {t}" for o, t in zip(ops, terms[1:])])
            digest = hashlib.blake2b(expression.encode(), digest_size=8).digest()
            in_eval = int.from_bytes(digest, "big") / 2**64 < self.eval_fraction
            if in_eval == (self.split == "eval"):
                text, value = derivation(terms, ops)
                return Sample(prompt=f"Compute {expression} step by step.", answer=text,
                              meta={"task": "derivations", "expression": expression, "value": value,
                                    "index": i})
        raise ValueError(f"the {self.split} split of the derivations task is (nearly) empty")

    def take(self, n: int, start: int = 0) -> list[Sample]:
        return [self[i] for i in range(start, start + n)]
