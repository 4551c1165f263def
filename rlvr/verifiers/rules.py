"""The rule verifiers that score one completion at a time: those a model judge may run first
(TinyV's fallback, `judge`'s `rule` option). `rlvr.verifiers.REGISTRY` is these plus the
verifiers that need a whole group or a model (majority, judge, pairwise)."""
from __future__ import annotations

from typing import Callable

from rlvr.verifiers.base import Verifier
from rlvr.verifiers.code import CodeVerifier
from rlvr.verifiers.format import FormatVerifier
from rlvr.verifiers.ifeval import IFEvalVerifier
from rlvr.verifiers.math import MathVerifier
from rlvr.verifiers.partial import PartialVerifier
from rlvr.verifiers.reasoning_gym import ReasoningGymVerifier
from rlvr.verifiers.self_verify import SelfVerifyVerifier
from rlvr.verifiers.spurious import RandomVerifier
from rlvr.verifiers.strict import StrictVerifier

RULES: dict[str, Callable[..., Verifier]] = {
    "math": MathVerifier,
    "format": FormatVerifier,
    "ifeval": IFEvalVerifier,
    "code": CodeVerifier,
    "partial": PartialVerifier,
    "random": RandomVerifier,
    "strict": StrictVerifier,
    "self_verify": SelfVerifyVerifier,
    "reasoning_gym": ReasoningGymVerifier,
}
