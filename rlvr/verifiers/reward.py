"""The reward of a completion: a weighted sum of verifier rewards, computed in a pool.

Composition: each component is `weight × reward`, and a component may be *gated* by another
verifier — it counts only when the gate's reward reaches `gate_threshold` (e.g. correctness
counts only when the format is right). Each component's raw mean, gated mean and gate pass
rate are logged separately, so a reward that rises for the wrong reason shows which part rose.

How a verifier is called depends on what it declares (see `rlvr.verifiers.pool`):
- plain: one pool task per completion;
- `needs_group = True`: one batch task per prompt group (the G completions of one prompt);
- `batch_size = N`: batch tasks of up to N consecutive completions (model-based verifiers).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from rlvr.verifiers.base import Verdict
from rlvr.verifiers.pool import BATCH_TASK, VerifierPool

Spec = tuple  # (name, weight, options) or (name, weight, options, gate, gate_threshold)


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


def calling_mode(name: str) -> tuple[bool, int]:
    """(needs_group, batch_size) that the verifier `name` declares; (False, 0) for a plain one."""
    from rlvr.verifiers import verifier_class
    cls = verifier_class(name)
    return bool(getattr(cls, "needs_group", False)), int(getattr(cls, "batch_size", 0) or 0)


def _chunks(n: int, groups: Sequence[int] | None, needs_group: bool, batch_size: int) -> list[range]:
    """Consecutive index ranges that one batch call receives."""
    if needs_group:
        sizes = list(groups) if groups is not None else [n]
        if sum(sizes) != n:
            raise ValueError(f"group sizes {sizes} do not add up to {n} completions")
        out, start = [], 0
        for size in sizes:
            out.append(range(start, start + size))
            start += size
        return out
    return [range(s, min(n, s + batch_size)) for s in range(0, n, batch_size)]


class RewardFunction:
    """`specs`: (name, weight, options[, gate, gate_threshold]) per verifier; `accuracy_from`:
    the verifier whose reward of 1 marks a correct answer (default: the first)."""

    def __init__(self, specs: Sequence[Spec], *, accuracy_from: str = "",
                 workers: int = 2, timeout_s: float = 5.0) -> None:
        self.names = [s[0] for s in specs]
        self.weights = [float(s[1]) for s in specs]
        self.gates = [(s[3] if len(s) > 3 else "") or "" for s in specs]
        self.gate_thresholds = [float(s[4]) if len(s) > 4 else 1.0 for s in specs]
        for name, gate in zip(self.names, self.gates):
            if gate and gate not in self.names:
                raise ValueError(f"verifier {name!r} is gated by {gate!r}, which is not among {self.names}")
        self.modes = [calling_mode(name) for name in self.names]
        self.accuracy_index = self.names.index(accuracy_from) if accuracy_from else 0
        self.pool = VerifierPool([(s[0], s[2]) for s in specs], workers=workers, timeout_s=timeout_s)

    def _tasks(self, completions, references, metas, groups) -> tuple[list[tuple], list[tuple[int, range]]]:
        """Pool tasks and, per task, (verifier index, the completions it covers)."""
        n = len(completions)
        tasks, where = [], []
        for v, (needs_group, batch_size) in enumerate(self.modes):
            if needs_group or batch_size:
                for r in _chunks(n, groups, needs_group, batch_size):
                    tasks.append((BATCH_TASK, v, [completions[i] for i in r], [references[i] for i in r],
                                  [metas[i] for i in r]))
                    where.append((v, r))
            else:
                for i in range(n):
                    tasks.append((v, completions[i], references[i], metas[i]))
                    where.append((v, range(i, i + 1)))
        return tasks, where

    def __call__(self, completions: Sequence[str], references: Sequence[Any],
                 metas: Sequence[dict] | None = None, *, groups: Sequence[int] | None = None) -> Scored:
        """`groups`: sizes of the consecutive prompt groups (e.g. [G] * P); group verifiers see
        one group per call. Without it, all completions form one group."""
        metas = list(metas) if metas is not None else [{} for _ in completions]
        n, k = len(completions), len(self.names)
        tasks, where = self._tasks(list(completions), list(references), metas, groups)
        per_verifier: list[list[Verdict | None]] = [[None] * n for _ in range(k)]
        for (v, r), result in zip(where, self.pool.run(tasks)):
            for i, verdict in zip(r, result if isinstance(result, list) else [result]):
                per_verifier[v][i] = verdict
        verdicts = [{self.names[v]: per_verifier[v][i] for v in range(k)} for i in range(n)]
        rewards = [sum(self._component(d, v) for v in range(k)) for d in verdicts]
        acc_name = self.names[self.accuracy_index]
        correct = [d[acc_name].reward >= 1.0 for d in verdicts]
        return Scored(rewards, correct, verdicts, self._metrics(verdicts))

    def _gate_open(self, d: dict[str, Verdict], v: int) -> bool:
        gate = self.gates[v]
        return not gate or d[gate].reward >= self.gate_thresholds[v]

    def _component(self, d: dict[str, Verdict], v: int) -> float:
        return self.weights[v] * d[self.names[v]].reward if self._gate_open(d, v) else 0.0

    def _metrics(self, verdicts: list[dict[str, Verdict]]) -> dict[str, float]:
        from rlvr.verifiers import STEP_METRICS, verifier_class
        n = max(1, len(verdicts))
        metrics: dict[str, float] = {}
        for v, name in enumerate(self.names):
            metrics[f"reward/{name}"] = sum(d[name].reward for d in verdicts) / n
            if self.gates[v]:
                metrics[f"reward/{name}/gate_open"] = sum(self._gate_open(d, v) for d in verdicts) / n
                metrics[f"reward/{name}/gated"] = sum(
                    d[name].reward if self._gate_open(d, v) else 0.0 for d in verdicts) / n
        for name in self.names:
            fn = STEP_METRICS.get(name) or getattr(verifier_class(name), "step_metrics", None)
            if fn is not None:
                metrics.update(fn([d[name] for d in verdicts]))
        errors = sum(1 for d in verdicts for v in d.values() if "error" in v.info)
        timeouts = sum(1 for d in verdicts for v in d.values() if v.info.get("error") == "timeout")
        metrics["reward/errors"] = float(errors)
        metrics["reward/timeouts"] = float(timeouts)
        # completions whose reward is missing a part: some verifier failed or ran out of time
        metrics["reward/failed_frac"] = sum(any("error" in v.info for v in d.values()) for d in verdicts) / n
        return metrics

    def close(self) -> None:
        self.pool.close()


def question_text(prompt: str | list[dict]) -> str:
    """The question of a row: the prompt itself, or the last user turn of a chat."""
    if isinstance(prompt, str):
        return prompt
    users = [m.get("content", "") for m in prompt if m.get("role") == "user"]
    return str(users[-1]) if users else ""


def verifier_meta(prompt: str | list[dict], meta: dict, context: str = "") -> dict:
    """What a verifier receives as `meta`: the row's own meta, plus `prompt` (the question)
    and, when known, `context` (every text the policy saw before answering: system prompt,
    worked examples, question) so that answers merely copied from it can be told apart."""
    out = {**meta, "prompt": question_text(prompt)}
    if context:
        out["context"] = context
    return out


def resolved_options(name: str, options: dict, policy_path: str) -> dict:
    """A verifier's options with `model: policy` — written out, or the constructor's default —
    replaced by the run's starting model."""
    import inspect

    from rlvr.verifiers import verifier_class
    out = dict(options)
    if "model" not in out:
        try:
            param = inspect.signature(verifier_class(name)).parameters.get("model")
        except (TypeError, ValueError):
            param = None
        if param is not None and param.default == "policy":
            out["model"] = "policy"
    if out.get("model") == "policy":
        out["model"] = policy_path
    return out


def build_reward_function(cfg: Any) -> RewardFunction:
    """The reward function of a run's config. A verifier option `model: policy` means the
    run's own starting model (`cfg.model.path`), e.g. a judge made of the base policy."""
    specs = [(v.name, v.weight, resolved_options(v.name, v.options, cfg.model.path), v.gate, v.gate_threshold)
             for v in cfg.reward.verifiers]
    return RewardFunction(specs, accuracy_from=cfg.reward.accuracy_from, workers=cfg.reward.workers,
                          timeout_s=cfg.reward.timeout_s)
