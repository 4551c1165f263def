"""The verifier protocol: `verifier(completion, reference, meta) -> Verdict`.

Verifiers are plain Python (no torch) so that they run in worker processes. A verifier
treats the completion as untrusted input: it never executes it and it must not crash on
it — but since it might anyway, the trainer runs every call through `VerifierPool`, which
adds a hard time limit and turns exceptions into reward 0 with `info["error"]`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Verdict:
    reward: float
    """The reward of one completion."""
    info: dict[str, Any] = field(default_factory=dict)
    """Why: the extracted answer, the reason for a zero, an error message..."""


@runtime_checkable
class Verifier(Protocol):
    name: str

    def __call__(self, completion: str, reference: Any, meta: dict) -> Verdict: ...


def batch(verifier: Verifier, completions: list[str], references: list[Any],
          metas: list[dict]) -> list[Verdict]:
    """Default batch form: one call per completion, in order."""
    return [verifier(c, r, m) for c, r, m in zip(completions, references, metas)]
