"""The verifier protocol: `verifier(completion, reference, meta) -> Verdict`.

Verifiers are plain Python (no torch) so that they run in worker processes. A verifier
treats the completion as untrusted input: it never executes it and it must not crash on
it — but since it might anyway, the trainer runs every call through `VerifierPool`, which
adds a hard time limit and turns exceptions into reward 0 with `info["error"]`.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Iterable, Protocol, runtime_checkable

NO_REWARD = "no_reward"
"""`Verdict.info[NO_REWARD] = True` (with reward 0): this verifier gives no reward for this
completion (a TRL function's None) — not an error; left out of the verifier's mean
`reward/<name>`, counted in `reward/<name>/none_frac`, 0 in the total."""
CALL_CONTEXT = "rlvr_call"
"""The meta key under which a verifier that declares `wants_call_context = True` receives
`{"completion_ids": [...] or None, "global_step": int or None, "max_steps": int or None}`."""


ANY_REFERENCE: tuple[type, ...] = (object,)
"""`reference_types` of a verifier that takes any reference, or none."""
NUMBER_OR_TEXT: tuple[type, ...] = (str, int, float)
"""`reference_types` of the verifiers that compare an answer with a number or its text."""


@dataclass(frozen=True)
class Verdict:
    reward: float
    """The reward of one completion."""
    info: dict[str, Any] = field(default_factory=dict)
    """Why: the extracted answer, the reason for a zero, an error message..."""


@runtime_checkable
class Verifier(Protocol):
    name: str
    # Each class also declares `reference_types`, the Python types of the reference it can
    # compare (`ANY_REFERENCE`: anything), checked against every loaded row before the model
    # loads (`rlvr.verifiers.references`); a plug-in that declares none accepts anything.

    def __call__(self, completion: str, reference: Any, meta: dict) -> Verdict: ...


def batch(verifier: Verifier, completions: list[str], references: list[Any],
          metas: list[dict]) -> list[Verdict]:
    """Default batch form: one call per completion, in order."""
    return [verifier(c, r, m) for c, r, m in zip(completions, references, metas)]


def group_digest(texts: Iterable[str], seed: int = 0) -> bytes:
    """A stable hash of a group's texts and `seed`: the draws of group verifiers (the random
    control, BRPO's reference) come from it, not from a global random state, so a resumed run
    gets the same rewards whichever worker computes them. Length-prefixed, so ["ab", "c"] and
    ["a", "bc"] differ; lone surrogates are hashed as they are."""
    h = hashlib.sha256(str(seed).encode())
    for t in texts:
        b = t.encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.digest()
