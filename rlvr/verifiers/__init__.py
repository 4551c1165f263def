"""Verifiers: `get(name, **options) -> Verifier`; `REGISTRY` lists the names.

A verifier is called as `verifier(completion: str, reference, meta: dict) -> Verdict` with
`Verdict.reward: float` and `Verdict.info: dict`. Pure Python — no torch — so that the
trainer can run verifiers in worker processes under a hard time limit (`pool.py`).
"""
from __future__ import annotations

from typing import Any, Callable

from rlvr.verifiers.base import Verdict, Verifier, batch
from rlvr.verifiers.format import FormatVerifier
from rlvr.verifiers.math import MathVerifier

REGISTRY: dict[str, Callable[..., Verifier]] = {
    "math": MathVerifier,
    "format": FormatVerifier,
}

DESCRIPTIONS = {
    "math": "final answer (last \\boxed{} or a pattern) equivalent to the reference, by math-verify",
    "format": "a well-formed final answer: one closed, non-empty \\boxed{} at the end",
}


def get(name: str, **options: Any) -> Verifier:
    if name not in REGISTRY:
        raise ValueError(f"unknown verifier {name!r}; available: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name](**options)


__all__ = ["REGISTRY", "DESCRIPTIONS", "Verdict", "Verifier", "batch", "get"]
