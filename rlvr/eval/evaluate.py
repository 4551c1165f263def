"""Evaluation of a policy on a set of samples: greedy accuracy, unbiased pass@k and maj@k from
n samples per problem, completion lengths, and every problem's own numbers (for intervals over
problems, rlvr.eval.report, and the per-problem JSONL of `rlvr eval`)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable, Sequence

from tqdm.auto import tqdm

from rlvr.eval.stats import maj_at_k, majority_clusters, pass_at_k
from rlvr.rollout.base import RolloutEngine, SamplingParams
from rlvr.types import Sample
from rlvr.verifiers.reward import RewardFunction, verifier_meta

if TYPE_CHECKING:
    from rlvr.eval.vote import Voter

EVAL_GROUP = "eval_group"  # a sample's meta key: the group its accuracy is also reported under


@dataclass
class EvalResult:
    accuracy: float
    """Greedy accuracy: share of problems whose single greedy answer is correct."""
    problems: int
    """Number of problems evaluated."""
    pass_at: dict[int, float] = field(default_factory=dict)
    """Unbiased pass@k per k, from `n` samples per problem (empty when not asked)."""
    n: int = 0
    """Samples per problem behind pass@k."""
    mean_length: float = 0.0
    """Mean greedy completion length in tokens."""
    examples: list[dict] = field(default_factory=list)
    """A few greedy completions with their verdicts."""
    by_group: dict[str, dict[str, float]] = field(default_factory=dict)
    """Greedy `accuracy` and `problems` per group, for samples whose meta names their
    `eval_group` (each task of a reasoning-gym mix); reported as `<group>/accuracy`."""
    maj_at: dict[int, float] = field(default_factory=dict)
    """maj@k per k (rlvr.eval.stats.maj_at_k), when a voter was given with `ks`."""
    sampled_mean_length: float = 0.0
    """Mean length in tokens of the `n` sampled completions per problem (0 without `ks`)."""
    per_problem: list[dict] = field(default_factory=list)
    """One record per problem, in order: `greedy_correct`, `greedy_length`, and with `ks` the
    samples `n`, correct ones `c`, `pass@k`, `maj@k`, `sampled_mean_length`, the answer
    `clusters` that voted; the summary numbers are the means of these."""

    def as_dict(self, examples: bool = False) -> dict:
        """The numbers the training loop logs and writes to eval.json (maj@k and the
        per-problem records are left out, so that a run's files keep their keys)."""
        out = {"accuracy": self.accuracy, "problems": self.problems, "mean_length": self.mean_length}
        if examples:
            out["examples"] = self.examples
        out.update({f"pass@{k}": v for k, v in self.pass_at.items()})
        out.update({f"{group}/{k}": v for group, values in self.by_group.items() for k, v in values.items()})
        if self.pass_at:
            out["n"] = self.n
        return out


def accuracy_by_group(samples: Sequence[Sample], correct: Sequence[bool]) -> dict[str, dict[str, float]]:
    """{group: {accuracy, problems}} over the samples whose meta names an `eval_group` (an
    explicit key, so that a data file's columns never spawn metrics by accident)."""
    tally: dict[str, list[bool]] = {}
    for s, ok in zip(samples, correct):
        group = s.meta.get(EVAL_GROUP) if isinstance(s.meta, dict) else None
        if isinstance(group, str) and group:
            tally.setdefault(group, []).append(bool(ok))
    return {g: {"accuracy": sum(oks) / len(oks), "problems": len(oks)} for g, oks in sorted(tally.items())}


def generate_chunked(engine: RolloutEngine, prompts: list, n: int, sampling: SamplingParams, progress: bool,
                     desc: str, chunk: int = 64) -> list:
    """`engine.generate` in chunks of prompts, with a progress bar."""
    out = []
    with tqdm(total=len(prompts), desc=desc, disable=not progress, leave=False, dynamic_ncols=True) as bar:
        for start in range(0, len(prompts), chunk):
            part = prompts[start:start + chunk]
            # a seeded call gives each chunk its own seed (the call's seed + its first prompt's index)
            sp = sampling if sampling.seed is None else replace(sampling, seed=sampling.seed + start)
            for c in engine.generate(part, n, sp):
                c.prompt_index += start
                out.append(c)
            bar.update(len(part))
    return out


def evaluate(engine: RolloutEngine, samples: Sequence[Sample], render: Callable[[Sample], list[int]],
             reward: RewardFunction, *, max_new_tokens: int, ks: Sequence[int] = (),
             n: int = 0, temperature: float = 1.0, seed: int = 0, examples: int = 3,
             progress: bool = False, context: Callable[[Sample], str] | None = None,
             voter: Voter | None = None) -> EvalResult:
    """Greedy accuracy on `samples`; with `ks`, also pass@k from `n` (default max k; n < k is
    refused) samples per problem at `temperature`, and maj@k when a `voter` (rlvr.eval.vote)
    groups the answers. Sampling is seeded by `seed`, apart from training's RNG.
    `context(sample)`: the text the policy saw (verifiers ignore answers copied from it)."""
    n = n or max(ks, default=0)
    if ks and n < max(ks):
        raise ValueError(f"pass@{max(ks)} and maj@{max(ks)} need at least {max(ks)} samples per problem, got n={n}")
    prompts = [render(s) for s in samples]
    refs = [s.answer for s in samples]
    metas = [verifier_meta(s.prompt, s.meta, context(s) if context else "") for s in samples]
    greedy = generate_chunked(engine, prompts, 1, SamplingParams(max_new_tokens=max_new_tokens, temperature=0.0),
                       progress, "eval (greedy)")
    scored = reward([c.text for c in greedy], refs, metas, groups=[1] * len(samples),
                    completion_ids=[c.token_ids for c in greedy])
    result = EvalResult(accuracy=sum(scored.correct) / max(1, len(samples)), problems=len(samples),
                        mean_length=sum(len(c.token_ids) for c in greedy) / max(1, len(greedy)))
    result.by_group = accuracy_by_group(samples, scored.correct)
    for i in range(min(examples, len(samples))):
        result.examples.append({"prompt": samples[i].prompt, "answer": refs[i], "completion": greedy[i].text,
                                "correct": scored.correct[i]})
    for i, (s, c, ok) in enumerate(zip(samples, greedy, scored.correct)):
        group = s.meta.get(EVAL_GROUP) if isinstance(s.meta, dict) else None
        result.per_problem.append({"index": i, "prompt": s.prompt, "answer": refs[i], **({"group": group} if group else {}),
                                   "greedy_completion": c.text, "greedy_correct": bool(ok),
                                   "greedy_length": len(c.token_ids)})
    if ks:
        sampled = generate_chunked(engine, prompts, n, SamplingParams(max_new_tokens=max_new_tokens,
                                                               temperature=temperature, seed=seed),
                            progress, f"eval ({n} samples each)", chunk=max(1, 64 // n))
        texts = [c.text for c in sampled]
        s_scored = reward(texts, [r for r in refs for _ in range(n)],
                          [m for m in metas for _ in range(n)], groups=[n] * len(samples),
                          completion_ids=[c.token_ids for c in sampled])
        result.n = n
        for i, record in enumerate(tqdm(result.per_problem, desc="eval (voting)", disable=not (progress and voter),
                                        leave=False, dynamic_ncols=True)):
            part = slice(i * n, (i + 1) * n)
            correct = s_scored.correct[part]
            record.update({"n": n, "c": int(sum(correct)),
                           "sampled_mean_length": sum(len(c.token_ids) for c in sampled[part]) / n})
            record.update({f"pass@{k}": pass_at_k(n, record["c"], k) for k in ks})
            if voter is not None:
                labels = voter.labels(texts[part], metas[i:i + 1] * n)
                sizes, right = majority_clusters(labels, correct)
                record.update({f"maj@{k}": maj_at_k(sizes, right, n, k) for k in ks})
                record["clusters"] = [{"size": z, "correct": ok} for z, ok in zip(sizes, right)]
        result.pass_at = {k: _mean(r[f"pass@{k}"] for r in result.per_problem) for k in ks}
        if voter is not None:
            result.maj_at = {k: _mean(r[f"maj@{k}"] for r in result.per_problem) for k in ks}
        result.sampled_mean_length = _mean(r["sampled_mean_length"] for r in result.per_problem)
    return result


def _mean(values) -> float:
    values = list(values)
    return sum(values) / max(1, len(values))
