"""Stages 1–3 of a step: prompts → completions → rewards, as a group-major batch.

Besides plain sampling (P prompts × G completions), this is where three methods change what
a step trains on:
- DAPO's dynamic sampling (arXiv 2503.14476 §3.2): groups whose rewards are all equal carry
  no signal; they are dropped and fresh prompts are generated until the batch holds P groups
  or `rollout.max_gen_rounds` rounds were spent.
- DAPO's soft overlong punishment (§3.4, Eq. 13): a linear penalty over the last
  `reward.overlong_buffer` tokens of the generation budget, added to the reward.
- ReMax's baseline (arXiv 2310.10505): one greedy completion per prompt, scored like the rest.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor

from rlvr.data import prompt_context
from rlvr.rollout.base import SamplingParams
from rlvr.types import Completion, Sample
from rlvr.verifiers.reward import verifier_meta


@dataclass
class Collected:
    samples: list[Sample]
    """The P' prompts that made it into the batch (P' ≤ P with dynamic sampling)."""
    prompts: list[list[int]]
    """Their rendered token ids."""
    completions: list[Completion]
    """G per prompt, prompt-major; `prompt_index` points into `prompts`."""
    rewards: Tensor
    """[P', G] total reward (verifiers plus shaping)."""
    correct: list[bool]
    """Per completion: the accuracy verifier gave 1."""
    verdicts: list[dict]
    """Per completion: each verifier's verdict."""
    greedy_rewards: Tensor | None = None
    """[P'] reward of each prompt's greedy completion (ReMax), else None."""
    metrics: dict[str, float] = field(default_factory=dict)
    """Rollout metrics over every completion generated this step (all rounds)."""


def overlong_penalty(lengths: Tensor, *, max_len: int, buffer: int, penalty: float = 1.0) -> Tensor:
    """DAPO Eq. 13: 0 up to max_len − buffer tokens, then falling linearly to −penalty at
    max_len (a completion cannot be longer than max_len here)."""
    start = max_len - buffer
    return -penalty * torch.clamp((lengths.float() - start) / buffer, min=0.0, max=1.0)


def collect(stream, engine, reward_fn, render: Callable[[Sample], list[int]], cfg, *,
            greedy: bool = False) -> Collected:
    """One step's training groups. Every random draw goes through the engine's and the
    stream's own state, so a resumed run collects exactly the same groups."""
    P, G, r = cfg.rollout.prompts_per_step, cfg.rollout.group_size, cfg.reward
    sampling = SamplingParams(max_new_tokens=cfg.rollout.max_new_tokens, temperature=cfg.rollout.temperature,
                              top_p=cfg.rollout.top_p, top_k=cfg.rollout.top_k)
    buffer = r.overlong_tokens(sampling.max_new_tokens)
    rounds = cfg.rollout.max_gen_rounds if cfg.rollout.dynamic_sampling else 1
    per_round = math.ceil(P * cfg.rollout.oversample) if cfg.rollout.dynamic_sampling else P
    kept: list[tuple] = []  # (sample, prompt, completions, rewards[G], correct, verdicts, greedy reward)
    all_rewards, all_correct, all_lengths, all_truncated, verifier_metrics = [], [], [], [], []
    dropped, used_rounds, t_gen, t_reward, n_tokens = 0, 0, 0.0, 0.0, 0
    for _ in range(rounds):
        if len(kept) >= P:
            break
        used_rounds += 1
        samples = stream.next(per_round)
        prompts = [render(s) for s in samples]
        t = time.time()
        completions = engine.generate(prompts, G, sampling)
        scored_completions = list(completions)  # the G samples of each prompt, then its greedy one
        refs = [s.answer for s in samples for _ in range(G)]
        row_metas = [verifier_meta(s.prompt, s.meta, prompt_context(s, cfg.data)) for s in samples]
        metas = [m for m in row_metas for _ in range(G)]
        groups = [G] * len(samples)
        if greedy:
            scored_completions += engine.generate(prompts, 1, dataclasses.replace(sampling, temperature=0.0))
            refs += [s.answer for s in samples]
            metas += row_metas
            groups += [1] * len(samples)
        t_gen += time.time() - t
        all_scored_lengths = torch.tensor([len(c.token_ids) for c in scored_completions])
        n_tokens += int(all_scored_lengths.sum())
        t = time.time()
        scored = reward_fn([c.text for c in scored_completions], refs, metas, groups=groups)
        t_reward += time.time() - t
        verifier_metrics.append(scored.metrics)
        total = torch.tensor(scored.rewards, dtype=torch.float32)
        if buffer:
            total = total + overlong_penalty(all_scored_lengths, max_len=sampling.max_new_tokens, buffer=buffer,
                                             penalty=r.overlong_penalty)
        n = len(samples)
        rewards, greedy_r = total[:n * G], (total[n * G:] if greedy else None)
        lengths = all_scored_lengths[:n * G]
        rewards = rewards.view(n, G)
        all_rewards.append(rewards)
        all_correct += scored.correct[:n * G]
        all_lengths.append(lengths)
        all_truncated += [c.finish_reason == "length" for c in completions]
        for p in range(n):
            if cfg.rollout.dynamic_sampling and bool((rewards[p] == rewards[p, 0]).all()):
                dropped += 1
                continue
            if len(kept) < P:
                kept.append((samples[p], prompts[p], completions[p * G:(p + 1) * G], rewards[p],
                             scored.correct[p * G:(p + 1) * G], scored.verdicts[p * G:(p + 1) * G],
                             None if greedy_r is None else greedy_r[p]))
    out = Collected(
        samples=[k[0] for k in kept], prompts=[k[1] for k in kept],
        completions=[dataclasses.replace(c, prompt_index=i) for i, k in enumerate(kept) for c in k[2]],
        rewards=torch.stack([k[3] for k in kept]) if kept else torch.zeros(0, G),
        correct=[x for k in kept for x in k[4]], verdicts=[x for k in kept for x in k[5]],
        greedy_rewards=torch.stack([k[6] for k in kept]) if greedy and kept else None)
    rewards, lengths = torch.cat(all_rewards), torch.cat(all_lengths).float()
    out.metrics = {
        "reward/mean": float(rewards.mean()),
        "reward/std": float(rewards.std()) if rewards.numel() > 1 else 0.0,
        "accuracy": sum(all_correct) / len(all_correct),
        **_mean_of(verifier_metrics),
        # groups whose rewards are all equal have zero advantage: they teach nothing
        "groups/all_equal_frac": float((rewards.max(1).values == rewards.min(1).values).float().mean()),
        "length/mean": float(lengths.mean()), "length/max": float(lengths.max()),
        "length/truncated_frac": sum(all_truncated) / len(all_truncated),
        "time/generate_s": t_gen, "time/reward_s": t_reward, "tokens/generated_per_s": n_tokens / max(t_gen, 1e-9),
    }
    if cfg.rollout.dynamic_sampling:
        out.metrics.update({"dynamic/rounds": float(used_rounds), "dynamic/dropped_groups": float(dropped),
                            "dynamic/short_groups": float(P - len(kept))})
    if greedy and kept:
        out.metrics["reward/greedy_mean"] = float(out.greedy_rewards.mean())
    return out


def _mean_of(metrics: list[dict[str, float]]) -> dict[str, float]:
    """Per-round verifier metrics: counts (errors, timeouts) add up, means average over the
    rounds that report them (a per-constraint rate exists only where that constraint was drawn)."""
    keys = list(dict.fromkeys(k for m in metrics for k in m))
    out = {}
    for k in keys:
        values = [m[k] for m in metrics if k in m]
        out[k] = sum(values) if k in ("reward/errors", "reward/timeouts") else sum(values) / len(values)
    return out
