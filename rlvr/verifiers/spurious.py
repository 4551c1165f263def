"""Spurious rewards: control experiments that carry no information about correctness.

"Spurious Rewards: Rethinking Training Signals in RLVR" (Shao et al., arXiv 2506.10947)
trains with a reward that ignores the answer — `random` (Bernoulli(p), independent of the
output) or format only — and reports large MATH-500 gains for Qwen2.5-Math but none for
Llama or OLMo. A method that helps only as much as these controls teaches nothing about
correctness; run them next to the real reward (presets `--reward=random`,
`--reward=format_only`).

The draws are a function of the group's texts and `seed`, not of a global random state: a
resumed run gets the same rewards, and a draw does not depend on which worker made it.
"""
from __future__ import annotations

import random
from typing import Any

from rlvr.verifiers.base import ANY_REFERENCE, Verdict, group_digest


class RandomVerifier:
    """Reward 1 with probability `p`, else 0, whatever the completion says."""

    name = "random"
    reference_types = ANY_REFERENCE  # the reference is not looked at
    needs_group = True  # one seeded generator per group: equal texts still draw independently

    def __init__(self, *, p: float = 0.5, seed: int = 0) -> None:
        """`p`: probability of reward 1. `seed`: changes every draw."""
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.p = p
        self.seed = seed

    def _rng(self, completions: list[str], metas: list[dict]) -> random.Random:
        texts = [t for text, meta in zip(completions, metas) for t in (str(meta.get("prompt", "")), text)]
        return random.Random(group_digest(texts, self.seed))

    def batch(self, completions: list[str], references: list[Any], metas: list[dict]) -> list[Verdict]:
        rng = self._rng(completions, metas)
        return [Verdict(1.0 if rng.random() < self.p else 0.0, {"spurious": "random"}) for _ in completions]

    def __call__(self, completion: str, reference: Any = None, meta: dict | None = None) -> Verdict:
        return self.batch([completion], [reference], [meta or {}])[0]
