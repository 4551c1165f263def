"""Evaluation of a policy on a set of samples: greedy accuracy and unbiased pass@k."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

from tqdm.auto import tqdm

from rlvr.eval.passk import mean_pass_at_k
from rlvr.rollout.base import RolloutEngine, SamplingParams
from rlvr.types import Sample
from rlvr.verifiers.reward import RewardFunction, verifier_meta

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

    def as_dict(self, examples: bool = False) -> dict:
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
             progress: bool = False, context: Callable[[Sample], str] | None = None) -> EvalResult:
    """Greedy accuracy on `samples`; with `ks`, also pass@k from `n` (default max k) samples
    per problem at `temperature`. Sampling is seeded by `seed`, apart from training's RNG.
    `context(sample)`: the text the policy saw (verifiers ignore answers copied from it)."""
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
    if ks:
        n = n or max(ks)
        sampled = generate_chunked(engine, prompts, n, SamplingParams(max_new_tokens=max_new_tokens,
                                                               temperature=temperature, seed=seed),
                            progress, f"eval ({n} samples each)", chunk=max(1, 64 // n))
        s_scored = reward([c.text for c in sampled], [r for r in refs for _ in range(n)],
                          [m for m in metas for _ in range(n)], groups=[n] * len(samples),
                          completion_ids=[c.token_ids for c in sampled])
        counts = [(n, sum(s_scored.correct[i * n:(i + 1) * n])) for i in range(len(samples))]
        result.n = n
        result.pass_at = {k: mean_pass_at_k(counts, k) for k in ks}
    return result
