"""The answers that vote in maj@k: each sample's final answer as the scoring verifier reads it,
grouped into equivalence classes.

maj@k must vote on the answer the verifier would score, or a majority could form around text
the verifier never looks at. So the voter follows the verifier that decides correctness
(`reward.accuracy_from`, else the first of `reward.verifiers`):

- `math`, `majority`: the answer as `math` extracts it (its answer_pattern, phrases and guards
  against echoes and hedges), clustered by math-verify equivalence exactly as the `majority`
  verifier clusters a group (`1/2` and `0.5` vote together);
- `strict`: the same extraction, clustered by identical normalised text (what `strict` compares);
- `reasoning_gym`: the last `<answer>` (or box) as that verifier reads it, by identical text
  (a task's `score_answer` compares with its entry, not two answers with each other).

Other verifiers (code, ifeval, judges, ...) read no single answer, and maj@k is not defined for them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Sequence

if TYPE_CHECKING:
    from rlvr.config import VerifierSpec

VOTING = ("math", "majority", "strict", "reasoning_gym")


class Voter(Protocol):
    how: str
    """How answers are extracted and grouped, in words (printed and written to --json)."""

    def labels(self, completions: Sequence[str], metas: Sequence[dict]) -> list[int | None]:
        """One problem's samples → the cluster index of each one's answer (None: no answer)."""


def _math_options(options: dict) -> dict:
    keys = ("answer_pattern", "hacking_guard", "answer_phrases", "timeout_s")
    return {k: options[k] for k in keys if k in options}


class EquivalenceVoter:
    """math-verify equivalence classes of `math`'s answers (the `majority` verifier's clustering)."""

    def __init__(self, options: dict) -> None:
        from rlvr.verifiers.majority import MajorityVerifier

        self.majority = MajorityVerifier(**_math_options(options))
        self.majority.prepare()
        self.how = "answers as the math verifier extracts them, grouped by math-verify equivalence"

    def labels(self, completions: Sequence[str], metas: Sequence[dict]) -> list[int | None]:
        answers = [self.majority.answer(c, m)[0] for c, m in zip(completions, metas)]
        parsed = [self.majority.parse(a) if a is not None else [] for a in answers]
        out: list[int | None] = [None] * len(completions)
        for j, cluster in enumerate(self.majority.cluster(answers, parsed)):
            for i in cluster.members:
                out[i] = j
        return out


def _by_text(answers: Sequence[str | None]) -> list[int | None]:
    ids: dict[str, int] = {}
    return [None if a is None else ids.setdefault(a, len(ids)) for a in answers]


class StrictVoter:
    """`strict`'s extraction, grouped by identical normalised text."""

    def __init__(self, options: dict) -> None:
        from rlvr.verifiers.math import MathVerifier
        from rlvr.verifiers.strict import StrictVerifier, normalize

        self.strict = StrictVerifier(**{k: v for k, v in options.items()
                                        if k in ("answer_pattern", "normalize", "hacking_guard", "answer_phrases")})
        self.guard = MathVerifier(answer_pattern=options.get("answer_pattern", ""),
                                  hacking_guard=options.get("hacking_guard", True))
        self.clean = normalize if options.get("normalize", True) else (lambda text: text)
        self.how = "answers as the strict verifier extracts them, grouped by identical normalised text"

    def labels(self, completions: Sequence[str], metas: Sequence[dict]) -> list[int | None]:
        answers = []
        for c, m in zip(completions, metas):
            a, _ = self.guard.guarded_answer(c, m, extract=self.strict.extract)
            a = self.clean(a) if a is not None else None
            answers.append(a or None)
        return _by_text(answers)


class ReasoningGymVoter:
    """The reasoning_gym verifier's final answer, grouped by identical text."""

    def __init__(self, options: dict) -> None:
        from rlvr.verifiers.reasoning_gym import MAX_ANSWER_CHARS, ReasoningGymVerifier

        self.rg = ReasoningGymVerifier(**options)
        self.max_chars = MAX_ANSWER_CHARS
        self.how = "final answers as the reasoning_gym verifier extracts them, grouped by identical text"

    def labels(self, completions: Sequence[str], metas: Sequence[dict]) -> list[int | None]:
        answers = []
        for c, m in zip(completions, metas):
            found = self.rg.final_answers(c, str(m.get("context") or m.get("prompt") or ""))
            distinct = set(a for a in found if a)
            hedged = self.rg.hacking_guard and len(distinct) > 1  # as the verifier, a hedge has no answer
            ok = found and found[-1] and not hedged and len(found[-1]) <= self.max_chars
            answers.append(found[-1] if ok else None)
        return _by_text(answers)


def voter_for(verifiers: Sequence[VerifierSpec], accuracy_from: str = "") -> tuple[Voter | None, str]:
    """(the voter for the verifier that decides correctness, "") or (None, why maj@k is not computed)."""
    if not verifiers:
        return None, "no verifier"
    spec = next((v for v in verifiers if v.name == accuracy_from), verifiers[0]) if accuracy_from else verifiers[0]
    options = dict(spec.options)
    if spec.name in ("math", "majority"):
        return EquivalenceVoter(options), ""
    if spec.name == "strict":
        return StrictVoter(options), ""
    if spec.name == "reasoning_gym":
        return ReasoningGymVoter(options), ""
    return None, (f"maj@k needs a final answer to vote on; the verifier {spec.name!r} that decides correctness "
                  f"reads none (maj@k is computed for {', '.join(VOTING)})")
