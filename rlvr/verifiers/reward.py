"""The reward of a completion: a weighted sum of verifier rewards, computed in a pool.

Composition: each component is `weight × reward`, and a component may be *gated* by another
verifier — it counts only when the gate's reward reaches `gate_threshold` (e.g. correctness
counts only when the format is right). Each component's raw mean, gated mean and gate pass
rate are logged separately, so a reward that rises for the wrong reason shows which part rose.

How a verifier is called depends on what it declares (see `rlvr.verifiers.pool`):
- plain: one pool task per completion;
- `needs_group = True`: one batch task per prompt group (the G completions of one prompt);
- `batch_size = N`: batch tasks of up to N consecutive completions (model-based verifiers).

A verifier that declares `may_abstain` may give no reward for a completion (`info["no_reward"]`,
a TRL function's None): 0 in the total, left out of its mean, counted in `reward/<name>/none_frac`.
One that declares `wants_call_context` also gets each completion's token ids and the training
step in its meta (`rlvr_call`); see docs/verifiers/frameworks.md.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from rlvr.verifiers.base import CALL_CONTEXT, NO_REWARD, Verdict
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
        from rlvr.verifiers import verifier_class
        self.modes = [calling_mode(name) for name in self.names]
        classes = [verifier_class(name) for name in self.names]
        self.abstains = [bool(getattr(cls, "may_abstain", False)) for cls in classes]
        self.wants_context = [bool(getattr(cls, "wants_call_context", False)) for cls in classes]
        self.global_step: int | None = None
        """Training steps done before the completions now scored (the trainer sets it), for
        verifiers that declare `wants_call_context`; None outside training."""
        self.max_steps: int | None = None
        self.accuracy_index = self.names.index(accuracy_from) if accuracy_from else 0
        self.pool = VerifierPool([(s[0], s[2]) for s in specs], workers=workers, timeout_s=timeout_s)

    def _metas_for(self, v: int, metas: list[dict], completion_ids: Sequence | None) -> list[dict]:
        """The metas verifier `v` receives: with the call context when it declares
        `wants_call_context` (token ids only for those, so the others' tasks stay small)."""
        if not self.wants_context[v]:
            return metas
        ids = list(completion_ids) if completion_ids is not None else [None] * len(metas)
        return [{**m, CALL_CONTEXT: {"completion_ids": None if t is None else list(t),
                                     "global_step": self.global_step, "max_steps": self.max_steps}}
                for m, t in zip(metas, ids)]

    def _tasks(self, completions, references, metas, groups,
               completion_ids=None) -> tuple[list[tuple], list[tuple[int, range]]]:
        """Pool tasks and, per task, (verifier index, the completions it covers)."""
        n = len(completions)
        tasks, where = [], []
        for v, (needs_group, batch_size) in enumerate(self.modes):
            v_metas = self._metas_for(v, metas, completion_ids)
            if needs_group or batch_size:
                for r in _chunks(n, groups, needs_group, batch_size):
                    tasks.append((BATCH_TASK, v, [completions[i] for i in r], [references[i] for i in r],
                                  [v_metas[i] for i in r]))
                    where.append((v, r))
            else:
                for i in range(n):
                    tasks.append((v, completions[i], references[i], v_metas[i]))
                    where.append((v, range(i, i + 1)))
        return tasks, where

    def __call__(self, completions: Sequence[str], references: Sequence[Any],
                 metas: Sequence[dict] | None = None, *, groups: Sequence[int] | None = None,
                 completion_ids: Sequence[Sequence[int]] | None = None) -> Scored:
        """`groups`: sizes of the consecutive prompt groups (e.g. [G] * P); group verifiers see
        one group per call. Without it, all completions form one group. `completion_ids`: each
        completion's token ids, for verifiers that declare `wants_call_context` (TRL's)."""
        metas = list(metas) if metas is not None else [{} for _ in completions]
        if completion_ids is not None and len(completion_ids) != len(completions):
            raise ValueError(f"{len(completion_ids)} completion_ids for {len(completions)} completions")
        n, k = len(completions), len(self.names)
        tasks, where = self._tasks(list(completions), list(references), metas, groups, completion_ids)
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
            # a verifier that gives no reward for a completion (a TRL function's None) is left out
            # of its own mean, as TRL's nanmean does; with no reward at all, it has no mean this time
            given = [d[name].reward for d in verdicts if not d[name].info.get(NO_REWARD)]
            if given or not self.abstains[v]:
                metrics[f"reward/{name}"] = sum(given) / max(1, len(given))
            if self.abstains[v]:
                metrics[f"reward/{name}/none_frac"] = (len(verdicts) - len(given)) / n
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
    """What a verifier receives as `meta`: the row's own meta, plus `prompt` (the question),
    `prompt_messages` (the row's chat as it is, when its prompt is a list of messages: what a
    TRL function gets as `prompts`) and, when known, `context` (every text the policy saw before
    answering: system prompt, worked examples, question) so that answers merely copied from it
    can be told apart."""
    out = {**meta, "prompt": question_text(prompt)}
    if isinstance(prompt, list):
        out["prompt_messages"] = prompt
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


def run_options(name: str, options: dict, cfg: Any) -> dict:
    """A verifier's options for a run: `resolved_options`, and for a verifier that declares
    `data_fields` (TRL's, which passes dataset columns by name) the run's `data.prompt_field` and
    `data.answer_field`, unless its options set them."""
    from rlvr.verifiers import verifier_class
    out = resolved_options(name, options, cfg.model.path)
    if getattr(verifier_class(name), "data_fields", False):
        out = {"prompt_field": cfg.data.prompt_field, "answer_field": cfg.data.answer_field, **out}
    return out


def build_reward_function(cfg: Any) -> RewardFunction:
    """The reward function of a run's config. A verifier option `model: policy` means the
    run's own starting model (`cfg.model.path`), e.g. a judge made of the base policy."""
    specs = [(v.name, v.weight, run_options(v.name, v.options, cfg), v.gate, v.gate_threshold)
             for v in cfg.reward.verifiers]
    fn = RewardFunction(specs, accuracy_from=cfg.reward.accuracy_from, workers=cfg.reward.workers,
                        timeout_s=cfg.reward.timeout_s)
    fn.global_step, fn.max_steps = 0, cfg.run.steps
    return fn
