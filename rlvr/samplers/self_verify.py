"""RISE: online self-verification (Liu et al., "Trust, but Verify", arXiv 2505.13445).

Each step, after the generation groups are collected and scored, the policy also learns to
check its own work: a few of this step's solutions are shown back to it in a verification
prompt ("here is a question and a solution; rate it in \\boxed{}"), it writes G
verifications of each, and a verification is rewarded for giving the score the rule-based
outcome verifier gave that solution. The verification groups join the step's batch after
the generation groups, so both tasks train in one update with the configured advantage and
loss. A sampler that wraps another (`SAMPLERS["self_verify"]`, chosen by
`self_verify.enabled`). docs/verifiers/self_verify.md maps the paper to this file.

Where this deviates from the paper (and its code, xyliu-cs/RISE + xyliu-cs/verl):
- Solutions are picked deterministically (spread over the groups, balancing correct and
  incorrect ones) instead of uniformly at random within each group, so no RNG state is added
  and a resumed run picks the same ones.
- The verification reward is 1 for the target score and 0 otherwise by default
  (`self_verify.reward: rise` restores the paper's 1 / −0.5 / −1); targets can use the
  paper's scale (1 / −0.5 / −1) or a binary one (1 / 0).
- The paper trains with PPO and a critic; here the run's method trains both tasks (GRPO by
  default, `--algo=ppo` for the paper's; JEPO and ReMax are refused: a verification group has
  no reference answer to score, nor a greedy baseline).
"""
from __future__ import annotations

import dataclasses
import re
import time
from typing import ClassVar

import torch

from rlvr.configtools import ConfigError
from rlvr.data.chat import Turn, render
from rlvr.rollout.base import SamplingParams
from rlvr.samplers.base import Render, Rollout, overlong_penalty
from rlvr.types import Sample
from rlvr.verifiers.base import Verdict
from rlvr.verifiers.reward import RewardFunction, question_text, verifier_meta

TARGETS = {
    "rise": {"correct": "1", "wrong": "-0.5", "no_answer": "-1"},  # the paper's outcome reward
    "binary": {"correct": "1", "wrong": "0", "no_answer": "0"},
}
"""The score a verification should write, by target scale and the solution's outcome."""

TEMPLATES = {
    "rise": (
        "Check the solution below to the question and rate it.\n\n"
        "Question:\n{question}\n\nSolution:\n{solution}\n\n"
        "Rate it \\boxed{1} if its final answer is correct, \\boxed{-0.5} if its final answer is wrong, "
        "and \\boxed{-1} if it gives no final answer. Check it briefly, then end with the rating in \\boxed{}."),
    "binary": (
        "Check the solution below to the question and rate it.\n\n"
        "Question:\n{question}\n\nSolution:\n{solution}\n\n"
        "Rate it \\boxed{1} if its final answer is correct and \\boxed{0} if it is wrong or missing. "
        "Check it briefly, then end with the rating in \\boxed{}."),
}
"""Built-in verification prompts (our wording; RISE's asks the same with its own text)."""

_FIELDS = re.compile(r"\{(question|solution)\}")


def outcome_label(correct: bool, verdict: Verdict) -> str:
    """`correct`, `no_answer` (the outcome verifier found no final answer: info reason
    `no_answer`) or `wrong` — every other zero, e.g. an unparsable or hedged answer."""
    if correct:
        return "correct"
    return "no_answer" if verdict.info.get("reason") == "no_answer" else "wrong"


def pick_solutions(correct: list[bool], usable: list[bool], group_size: int, n: int) -> list[int]:
    """Indices (into the prompt-major completions) of the `n` solutions to verify.

    The k-th pick starts at group ⌊k·P/n⌋, so picks spread evenly over the P groups (n > P
    takes several from a group). It wants the outcome picked less often so far (correct on a
    tie): the first unpicked solution with that outcome in its group, else in the groups
    after it (wrapping around); only when no group has one does it take the first unpicked
    solution of its group (or the next group's). A verifier trained on one outcome only would
    learn to always give that score, so the mix comes before the spread. Completions of a group
    are i.i.d. samples, so "the first" is as good as a random choice, without any RNG state.
    `usable` False leaves a solution out (its outcome is unknown: the verifier failed).
    """
    P = len(correct) // group_size
    n = min(n, sum(usable))
    taken: set[int] = set()
    picks: list[int] = []
    for k in range(n):
        n_correct = sum(correct[i] for i in picks)
        want = n_correct <= len(picks) - n_correct
        start = k * P // n
        order = [i for g in range(start, start + P) for i in range((g % P) * group_size, (g % P + 1) * group_size)
                 if usable[i] and i not in taken]  # free solutions, from the pick's own group onwards
        choice = next((i for i in order if correct[i] == want), order[0])
        taken.add(choice)
        picks.append(choice)
    return picks


def asked_question(sample: Sample, prompt_template: str = "{prompt}") -> str:
    """The question as the policy was asked it: the data's user turn (its template applied,
    as RISE shows the whole user turn), or the last user message of a chat sample."""
    if isinstance(sample.prompt, str):
        return prompt_template.replace("{prompt}", sample.prompt)
    return question_text(sample.prompt)


def verification_prompt(template: str, question: str, solution: str) -> str:
    """`template` with `{question}` and `{solution}` filled in one pass: other braces (as in
    `\\boxed{1}`) need no escaping, and braces inside the question or solution are never
    read as fields."""
    values = {"question": question, "solution": solution.strip()}
    return _FIELDS.sub(lambda m: values[m.group(1)], template)


def append_groups(got: Rollout, extra: Rollout) -> Rollout:
    """`got` followed by the groups of `extra` (same G): one batch, prompt-major, `extra`'s
    prompt indices shifted past `got`'s prompts; metrics of both."""
    assert got.rewards.shape[1] == extra.rewards.shape[1], "both kinds of groups have G completions"
    assert got.greedy_rewards is None, "greedy baselines are refused with self-verification (config check)"
    offset = len(got.prompts)
    return dataclasses.replace(
        got, samples=got.samples + extra.samples, prompts=got.prompts + extra.prompts,
        completions=got.completions + [dataclasses.replace(c, prompt_index=c.prompt_index + offset)
                                       for c in extra.completions],
        rewards=torch.cat([got.rewards, extra.rewards]), correct=got.correct + extra.correct,
        verdicts=got.verdicts + extra.verdicts, metrics={**got.metrics, **extra.metrics})


class SelfVerifySampler:
    """The verification task of a run, wrapping the run's own sampler (`inner`): each
    `collect` returns the inner rollout with this step's verification groups appended. Owns a
    verifier pool (`close()` it)."""

    wraps: ClassVar[bool] = True

    def __init__(self, cfg, *, tokenizer=None, inner=None, greedy: bool = False) -> None:
        assert inner is not None and tokenizer is not None, "self_verify wraps another sampler and renders prompts"
        self.inner = inner
        self.cfg, self.sv, self.tokenizer = cfg, cfg.self_verify, tokenizer
        self.accuracy_name = cfg.reward.accuracy_from or cfg.reward.verifiers[0].name
        self.template = self.sv.template or TEMPLATES[self.sv.targets]
        self.shots = [Turn(verification_prompt(self.template, s.question, s.solution), s.completion)
                      for s in self.sv.few_shot]
        r = cfg.rollout
        self.sampling = SamplingParams(max_new_tokens=r.max_new_tokens, temperature=r.temperature,
                                       top_p=r.top_p, top_k=r.top_k)
        # verification texts are model output too: scored in worker processes under the time limit
        self.reward_fn = RewardFunction(
            [("self_verify", 1.0, {"answer_pattern": self.sv.answer_pattern, "reward": self.sv.reward})],
            workers=cfg.reward.workers, timeout_s=cfg.reward.timeout_s)

    @staticmethod
    def check_config(cfg) -> None:
        """RISE's verification groups need a method that learns from group rewards alone."""
        sv, a = cfg.self_verify, cfg.algo
        if not 1 <= sv.solutions <= cfg.rollout.prompts_per_step * cfg.rollout.group_size:
            raise ConfigError(f"bad value {sv.solutions!r} for 'self_verify.solutions'; must be between 1 and "
                              f"prompts_per_step × group_size ({cfg.rollout.prompts_per_step * cfg.rollout.group_size})")
        if sv.template and not all(f in sv.template for f in ("{question}", "{solution}")):
            raise ConfigError("'self_verify.template' must contain the fields {question} and {solution}")
        try:
            re.compile(sv.answer_pattern)
        except re.error as e:
            raise ConfigError(f"bad value {sv.answer_pattern!r} for 'self_verify.answer_pattern': {e}") from None
        if a.filter_adaptive_keep:
            raise ConfigError("'algo.filter_adaptive_keep' ranks prompts by difficulty; with 'self_verify.enabled' "
                              "the verification groups would enter that history — use 'algo.filter_keep'")

    def collect(self, stream, engine, reward_fn, render: Render) -> Rollout:
        return self.extend(self.inner.collect(stream, engine, reward_fn, render), engine)

    def state_dict(self) -> dict:
        return {"inner": self.inner.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.inner.load_state_dict(state.get("inner", {}))

    def render(self, sample: Sample) -> list[int]:
        """A verification prompt is one user turn under the run's system prompt, after the
        worked verifications of `self_verify.few_shot` if any. The data's few-shot examples
        are left out: they show solving, not rating, and would prime the policy to answer the
        question again instead of scoring the solution. The run's prompt format (chat or raw)
        and chat-template variables apply as to every prompt."""
        d = self.cfg.data
        return render(self.tokenizer, sample, system_prompt=d.system_prompt, few_shot=self.shots,
                      prompt_format=d.prompt_format, chat_template_kwargs=d.chat_template_kwargs)

    def tasks(self, got: Rollout) -> list[Sample]:
        """One verification sample per picked solution: prompt, target score, and where from."""
        verdicts = [v[self.accuracy_name] for v in got.verdicts]
        usable = ["error" not in v.info for v in verdicts]  # a failed check gives no target
        picks = pick_solutions(got.correct, usable, self.cfg.rollout.group_size, self.sv.solutions)
        out = []
        for i in picks:
            c = got.completions[i]
            label = outcome_label(got.correct[i], verdicts[i])
            text = verification_prompt(self.template, asked_question(got.samples[c.prompt_index],
                                                                      self.cfg.data.prompt_template), c.text)
            out.append(Sample(text, TARGETS[self.sv.targets][label],
                              {"self_verify": {"solution_index": i, "outcome": label}}))
        return out

    def extend(self, got: Rollout, engine) -> Rollout:
        """`got` with S = `self_verify.solutions` verification groups of G appended, rewards
        from the verifier pool, and the `self_verify/*` metrics added to its metrics."""
        if not got.samples:  # dynamic sampling kept nothing: nothing to verify either
            return got
        t0 = time.time()
        G = self.cfg.rollout.group_size
        samples = self.tasks(got)
        if not samples:  # every verdict of the step failed: no solution has a known outcome
            return dataclasses.replace(got, metrics={**got.metrics, "self_verify/groups": 0.0})
        prompts = [self.render(s) for s in samples]
        completions = engine.generate(prompts, G, self.sampling)  # the engine's seeded generator
        metas = [verifier_meta(s.prompt, s.meta) for s in samples]
        scored = self.reward_fn([c.text for c in completions], [s.answer for s in samples for _ in range(G)],
                                [m for m in metas for _ in range(G)], groups=[G] * len(samples))
        rewards = torch.tensor(scored.rewards, dtype=torch.float32)
        buffer = self.cfg.reward.overlong_tokens(self.sampling.max_new_tokens)
        if buffer:  # the same shaping as the generation task: one loss, one reward convention
            lengths = torch.tensor([len(c.token_ids) for c in completions])
            rewards = rewards + overlong_penalty(lengths, max_len=self.sampling.max_new_tokens, buffer=buffer,
                                                 penalty=self.cfg.reward.overlong_penalty)
        verdicts = [d["self_verify"] for d in scored.verdicts]
        metrics = {**{k: v for k, v in scored.metrics.items() if k.startswith("self_verify/")},  # STEP_METRICS
                   "self_verify/reward_mean": float(rewards.mean()),
                   "self_verify/groups": float(len(samples)),
                   "self_verify/solutions_correct_frac":
                       sum(s.meta["self_verify"]["outcome"] == "correct" for s in samples) / len(samples),
                   "self_verify/errors": float(sum("error" in v.info for v in verdicts)),
                   "time/self_verify_s": time.time() - t0}
        extra = Rollout(samples=samples, prompts=prompts, completions=completions,
                          rewards=rewards.view(len(samples), G), correct=scored.correct,
                          verdicts=scored.verdicts, metrics=metrics)
        return append_groups(got, extra)

    def close(self) -> None:
        self.reward_fn.close()
        self.inner.close()
