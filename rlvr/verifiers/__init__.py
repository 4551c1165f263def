"""Verifiers: `get(name, **options) -> Verifier`; `REGISTRY` lists the names.

A verifier is called as `verifier(completion: str, reference, meta: dict) -> Verdict` with
`Verdict.reward: float` and `Verdict.info: dict`. Pure Python — no torch — so that the
trainer can run verifiers in worker processes under a hard time limit (`pool.py`).
"""
from __future__ import annotations

from typing import Any, Callable

from rlvr.verifiers.base import Verdict, Verifier, batch
from rlvr.verifiers.code import CodeVerifier
from rlvr.verifiers.format import FormatVerifier
from rlvr.verifiers.ifeval import IFEvalVerifier, constraint_metrics
from rlvr.verifiers.math import MathVerifier

REGISTRY: dict[str, Callable[..., Verifier]] = {
    "math": MathVerifier,
    "format": FormatVerifier,
    "ifeval": IFEvalVerifier,
    "code": CodeVerifier,
}

DESCRIPTIONS = {
    "math": "final answer (last \\boxed{}, or 'the answer is', or a pattern) equivalent to the reference, "
            "by math-verify; several different answers earn nothing",
    "format": "a well-formed final answer: one closed, non-empty \\boxed{} at the end",
    "ifeval": "instruction following (IFEval/IFBench ids and kwargs): all constraints met (0/1) or the "
              "fraction met",
    "code": "runs the last ```python block against stdin/stdout or assert tests in a sandbox; reward = "
            "fraction (or all) passed",
}

STEP_METRICS: dict[str, Callable[[list[Verdict]], dict[str, float]]] = {
    "ifeval": constraint_metrics,
}
"""Per-verifier step metrics computed from that verifier's verdicts of a step (logged)."""


def get(name: str, **options: Any) -> Verifier:
    if name not in REGISTRY:
        raise ValueError(f"unknown verifier {name!r}; available: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name](**options)


__all__ = ["REGISTRY", "DESCRIPTIONS", "STEP_METRICS", "Verdict", "Verifier", "batch", "get"]
