"""The reward of a completion: a weighted sum of verifier rewards, computed in a pool."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from rlvr.verifiers.base import Verdict
from rlvr.verifiers.pool import VerifierPool


@dataclass
class Scored:
    rewards: list[float]
    """Total reward per completion."""
    correct: list[bool]
    """Whether the accuracy verifier gave reward 1."""
    verdicts: list[dict[str, Verdict]]
    """Each completion's verdict per verifier name."""
    metrics: dict[str, float]
    """Per-verifier mean reward, error and timeout counts."""


class RewardFunction:
    """`specs`: (name, weight, options) per verifier; `accuracy_from`: the verifier whose
    reward of 1 marks a correct answer (default: the first)."""

    def __init__(self, specs: Sequence[tuple[str, float, dict]], *, accuracy_from: str = "",
                 workers: int = 2, timeout_s: float = 5.0) -> None:
        self.names = [name for name, _, _ in specs]
        self.weights = [float(w) for _, w, _ in specs]
        self.accuracy_index = self.names.index(accuracy_from) if accuracy_from else 0
        self.pool = VerifierPool([(n, o) for n, _, o in specs], workers=workers, timeout_s=timeout_s)

    def __call__(self, completions: Sequence[str], references: Sequence[Any],
                 metas: Sequence[dict] | None = None) -> Scored:
        metas = list(metas) if metas is not None else [{} for _ in completions]
        n, k = len(completions), len(self.names)
        tasks = [(v, completions[i], references[i], metas[i]) for i in range(n) for v in range(k)]
        flat = self.pool.run(tasks)
        verdicts = [{self.names[v]: flat[i * k + v] for v in range(k)} for i in range(n)]
        rewards = [sum(w * d[name].reward for w, name in zip(self.weights, self.names)) for d in verdicts]
        acc_name = self.names[self.accuracy_index]
        correct = [d[acc_name].reward >= 1.0 for d in verdicts]
        metrics: dict[str, float] = {}
        for name in self.names:
            values = [d[name].reward for d in verdicts]
            metrics[f"reward/{name}"] = sum(values) / max(1, n)
        from rlvr.verifiers import STEP_METRICS
        for name in self.names:
            if name in STEP_METRICS:
                metrics.update(STEP_METRICS[name]([d[name] for d in verdicts]))
        errors = sum(1 for d in verdicts for v in d.values() if "error" in v.info)
        timeouts = sum(1 for d in verdicts for v in d.values() if v.info.get("error") == "timeout")
        metrics["reward/errors"] = float(errors)
        metrics["reward/timeouts"] = float(timeouts)
        return Scored(rewards, correct, verdicts, metrics)

    def close(self) -> None:
        self.pool.close()
