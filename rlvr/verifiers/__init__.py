"""Verifiers: `get(name, **options) -> Verifier`; `REGISTRY` lists the names.

A verifier is called as `verifier(completion: str, reference, meta: dict) -> Verdict` with
`Verdict.reward: float` and `Verdict.info: dict`. Pure Python — no torch — so that the
trainer can run verifiers in worker processes under a hard time limit (`pool.py`).
"""
from __future__ import annotations

from typing import Any, Callable

from rlvr.plugins import import_dotted
from rlvr.verifiers.base import Verdict, Verifier, batch
from rlvr.verifiers.foreign import FRAMEWORKS, foreign_class, framework_hint, is_foreign
from rlvr.verifiers.ifeval import constraint_metrics
from rlvr.verifiers.judge import JudgeVerifier, judge_metrics
from rlvr.verifiers.majority import MajorityVerifier, majority_metrics
from rlvr.verifiers.pairwise import PairwiseVerifier, pairwise_metrics
from rlvr.verifiers.partial import partial_metrics
from rlvr.verifiers.reasoning_gym import task_metrics
from rlvr.verifiers.rules import RULES
from rlvr.verifiers.self_verify import verification_metrics

REGISTRY: dict[str, Callable[..., Verifier]] = {
    **RULES,
    "majority": MajorityVerifier,
    "judge": JudgeVerifier,
    "pairwise": PairwiseVerifier,
}

DESCRIPTIONS = {
    "math": "final answer (last \\boxed{}, or 'the answer is', or a pattern) equivalent to the reference, "
            "by math-verify; several different answers earn nothing",
    "format": "a well-formed final answer: one closed, non-empty \\boxed{} at the end (box_only: any "
              "non-empty box)",
    "random": "spurious control: reward 1 with probability p whatever the output (Spurious Rewards)",
    "ifeval": "instruction following (IFEval/IFBench ids and kwargs): all constraints met (0/1) or the "
              "fraction met",
    "code": "runs the last ```python block against stdin/stdout or assert tests in a sandbox; reward = "
            "fraction (or all) passed",
    "majority": "label-free self-reward (TTRL/SRT): agreeing with the group's majority answer (or a frozen "
                "pseudo-label); the reference only feeds label-accuracy diagnostics",
    "partial": "multi-part answers (StructVRM): each boxed sub-answer checked by math-verify; reward = "
               "fraction of parts right (or all-or-nothing)",
    "strict": "final answer (found as by math) identical to the reference after stripping whitespace, "
              "$…$ and a full stop; no math parsing — the high-precision baseline of `rlvr audit verifier`",
    "self_verify": "RISE's verification reward: the rating in the last \\boxed{} (or a pattern) equals the "
                   "target score, the outcome verifier's (used by `self_verify.enabled`)",
    "judge": "a local LM asked 'is the final answer equivalent to the reference?'; reward P(yes) — alone, "
             "or TinyV's fallback when the rule verifier (math) says no",
    "reasoning_gym": "a reasoning-gym task's own score_answer on the last <answer>…</answer> (or \\boxed{}); "
                     "reward in [0, 1], logged per task as reward/<task> (data.train: rg:TASK)",
    "pairwise": "BRPO (Writing-Zero): a local LM compares each response with a reference drawn from its "
                "group in both orders; +1 / −1 / 0, no reference answer needed (pair with advantage raw)",
}

STEP_METRICS: dict[str, Callable[[list[Verdict]], dict[str, float]]] = {
    "ifeval": constraint_metrics,
    "majority": majority_metrics,
    "partial": partial_metrics,
    "self_verify": verification_metrics,
    "judge": judge_metrics,
    "pairwise": pairwise_metrics,
    "reasoning_gym": task_metrics,
}
"""Per-verifier step metrics computed from that verifier's verdicts of a step (logged)."""


def verifier_class(name: str) -> Callable[..., Verifier]:
    """The class (or factory) of a verifier: a registered name, `trl:…` / `verl:…` for a reward
    function of those frameworks (`rlvr.verifiers.foreign`), or `package.module:Name` for your
    own verifier (importable in the worker processes too, e.g. installed or on PYTHONPATH)."""
    if name in REGISTRY:
        return REGISTRY[name]
    if is_foreign(name):
        return foreign_class(name)
    if ":" in name:
        hint = framework_hint(name)  # a reward function of TRL or verl named without its prefix
        try:
            found = import_dotted(name)
        except (ImportError, AttributeError) as e:
            raise ValueError(f"cannot import verifier {name!r}: {e}" + (f"; {hint}" if hint else "")) from e
        hint = hint or framework_hint(name, found)
        if hint:
            raise ValueError(f"verifier {name!r}: {hint}")
        return found
    raise ValueError(f"unknown verifier {name!r}; available: {', '.join(sorted(REGISTRY))}, "
                     "'trl:MODULE_OR_FILE:FUNCTION', 'verl:MODULE_OR_FILE:FUNCTION', or 'package.module:ClassName'")


def get(name: str, **options: Any) -> Verifier:
    return verifier_class(name)(**options)


__all__ = ["FRAMEWORKS", "REGISTRY", "DESCRIPTIONS", "STEP_METRICS", "Verdict", "Verifier", "batch", "foreign_class", "get",
           "is_foreign", "verifier_class"]
