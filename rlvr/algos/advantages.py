"""Advantage estimators over groups of completions of the same prompt.

Signature of every entry: `ADVANTAGES[name](rewards[P, G], **hyper) -> Tensor[P, G]`, where
row p holds the G rewards of prompt p's completions. The result is one advantage per
completion; the trainer broadcasts it over the completion's tokens.

An estimator that needs more than the sampled rewards says so with a function attribute the
trainer reads, and the trainer then passes the extra input as a keyword argument:
`needs_greedy_rewards = True` (ReMax) means "generate one greedy completion per prompt, score
it with the same reward function and call me with `greedy_rewards: Tensor[P]`".

Group-relative estimators (grpo, dr_grpo, rloo, reinforce_pp_baseline, remax, jepo) give an
advantage of exactly 0 to every member of a group whose rewards are all equal; the trainer
relies on exact zeros to skip such sequences.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from rlvr.algos.gae import whiten
from rlvr.algos.jepo import jepo


def _centre(rewards: Tensor) -> Tensor:
    """R − mean(R) per row, computed as d − mean(d) with d = R − R_0. Shifting by the first
    reward makes a row of equal rewards exactly 0: the plain mean of eight rewards of 0.7
    rounds in float32, leaves ±6e-8, and the std division then turns that into ±0.06."""
    d = rewards - rewards[:, :1]
    return d - d.mean(dim=1, keepdim=True)


def grpo(rewards: Tensor, *, eps: float = 1e-6, scale_by_std: bool = True,
         unbiased: bool = True) -> Tensor:
    """Â_i = (R_i − mean(R)) / (std(R) + eps) within each group (DeepSeekMath, arXiv
    2402.03300 §4.1.2). `std` is the unbiased sample standard deviation, as `torch.std`
    (verl, TRL); `unbiased=False` takes the population std, GFPO's σ_S over the retained
    responses (GFPO, arXiv 2508.09726). A group of one has no spread: its advantage is 0."""
    centred = _centre(rewards)
    if not scale_by_std:
        return centred
    if rewards.shape[1] < 2:
        return torch.zeros_like(rewards)
    std = centred.std(dim=1, keepdim=True, correction=1 if unbiased else 0)
    return centred / (std + eps)


def dr_grpo(rewards: Tensor) -> Tensor:
    """Â_i = R_i − mean(R): Dr. GRPO drops the std division, which weights questions by
    difficulty (arXiv 2503.20783 §3.1, "Dr. GRPO Modification 1")."""
    return grpo(rewards, scale_by_std=False)


def rloo(rewards: Tensor) -> Tensor:
    """Â_i = R_i − (1/(G−1)) Σ_{j≠i} R_j = G/(G−1) · (R_i − mean(R)): REINFORCE with the
    leave-one-out baseline (RLOO, Ahmadian et al., arXiv 2402.14740, after Kool et al.
    2019). The baseline does
    not depend on sample i, so the estimate is unbiased. A group of one has no other sample:
    its advantage is 0."""
    G = rewards.shape[1]
    if G < 2:
        return torch.zeros_like(rewards)
    return _centre(rewards) * (G / (G - 1))


def reinforce_pp(rewards: Tensor, *, eps: float = 1e-6) -> Tensor:
    """REINFORCE++ with outcome rewards (Hu, arXiv 2501.03262, "global advantage
    normalization"): no critic and no group
    baseline; the rewards of the whole batch (all P·G values) are whitened,
    (R − mean_all) / (std_all + eps), with the population std (OpenRLHF's whitening).
    Not group-relative: a group of equal rewards gets a nonzero advantage unless the whole
    batch agrees."""
    return whiten(rewards, torch.ones_like(rewards), eps=eps)


def reinforce_pp_baseline(rewards: Tensor, *, eps: float = 1e-6) -> Tensor:
    """REINFORCE++ "w/ baseline" (arXiv 2501.03262, the group-sampling variant): subtract each
    group's mean reward, then divide by the std over the whole batch. The group-centred
    values already have batch mean 0, so only the scale is normalised (`shift_mean=False`);
    subtracting a float mean of ~1e-9 would leave all-equal groups a tiny nonzero advantage."""
    return whiten(dr_grpo(rewards), torch.ones_like(rewards), eps=eps, shift_mean=False)


def remax(rewards: Tensor, *, greedy_rewards: Tensor) -> Tensor:
    """Â_i = R_i − R(greedy completion of prompt p): ReMax's baseline (Li et al., arXiv
    2310.10505, Algorithm 1). `greedy_rewards`: `[P]`, supplied by the trainer because
    the function carries `needs_greedy_rewards` (see the module docstring)."""
    assert greedy_rewards.shape == rewards.shape[:1], (greedy_rewards.shape, rewards.shape)
    return rewards - greedy_rewards.to(rewards.dtype).unsqueeze(1)


remax.needs_greedy_rewards = True


def raw(rewards: Tensor) -> Tensor:
    """Â_i = R_i: the reward is the advantage, with no baseline and no normalisation — BRPO
    (Writing-Zero, arXiv 2506.00103), whose pairwise rewards are already signed against the
    group's temporary reference (+1 better, −1 not; 0 for the reference itself and for every
    member of a group without discrimination)."""
    return rewards.clone()


ADVANTAGES: dict[str, Callable[..., Tensor]] = {
    "grpo": grpo,
    "dr_grpo": dr_grpo,
    "rloo": rloo,
    "reinforce_pp": reinforce_pp,
    "reinforce_pp_baseline": reinforce_pp_baseline,
    "remax": remax,
    "jepo": jepo,
    "raw": raw,
}
