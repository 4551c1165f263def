"""Corrections for the gap between the rollout engine's and the trainer's log-probs.

The completions are sampled by the rollout engine (vLLM, or the HF generate path with its
own kernels and precision), whose token probabilities differ from the trainer's for the
same weights; left alone, this silently makes training off-policy. Truncated importance
sampling (TIS; Yao, Liu et al., "Your Efficient RL Framework Secretly Brings You Off-Policy
RL Training", 2025 blog; ALGORITHMS.md §16) reweights each token's loss by the truncated
ratio π_trainer(θ_old) / π_rollout(θ_old); masking (MIS) drops the sequences whose ratio is
extreme instead.

Signature of every entry: `CORRECTIONS[name](old_logp[B, T], rollout_logp[B, T], mask[B, T],
**hyper) -> (weights[B, T], metrics)`, where `old_logp` are the trainer's log-probs under the
sampling weights and `rollout_logp` the engine's. Weights and metrics carry no gradient.

Convention: the trainer multiplies each per-token loss value by its weight *before*
reduction (it wraps `reduce`): the weight multiplies the clipped PPO loss, never the ratio
inside the clip. Weights at padding positions do not matter: the reduction masks them.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor

Metrics = dict[str, Tensor]


def _token_log_ratio(old_logp: Tensor, rollout_logp: Tensor, m: Tensor) -> Tensor:
    """log π_trainer − log π_rollout per token, 0 on padding, clamped to ±20 before any `exp`
    (as verl's rollout correction) so that a token the engine found unlikely cannot overflow."""
    return torch.clamp((old_logp - rollout_logp) * m, min=-20.0, max=20.0)


def _seq_log_ratio(old_logp: Tensor, rollout_logp: Tensor, m: Tensor) -> Tensor:
    """log of the sequence ratio Π_t π_trainer / π_rollout `[B]`, clamped to ±20."""
    return torch.clamp(((old_logp - rollout_logp) * m).sum(-1), min=-20.0, max=20.0)


def _metrics(weights: Tensor, clipped_frac: Tensor, old_logp: Tensor, rollout_logp: Tensor, m: Tensor) -> Metrics:
    tokens = m.sum().clamp(min=1)
    diff = torch.where(m > 0, old_logp - rollout_logp, torch.zeros_like(old_logp))
    ratio = torch.where(m > 0, torch.exp(_token_log_ratio(old_logp, rollout_logp, m)), torch.zeros_like(m))
    return {
        "correction/weight_mean": (weights * m).sum() / tokens,
        "correction/clipped_frac": clipped_frac,
        "mismatch/logp_abs_diff": diff.abs().sum() / tokens,
        "mismatch/ratio_max": ratio.max(),
    }


def _rows_frac(flags: Tensor, m: Tensor) -> Tensor:
    """Fraction of the sequences with at least one token for which `flags[B]` holds."""
    has = m.sum(-1) > 0
    return (flags & has).sum().to(m.dtype) / has.sum().clamp(min=1)


@torch.no_grad()
def none(old_logp: Tensor, rollout_logp: Tensor, mask: Tensor) -> tuple[Tensor, Metrics]:
    """No correction: every weight is 1. The `mismatch/*` metrics are still measured."""
    m = mask.to(old_logp.dtype)
    weights = torch.ones_like(old_logp)
    return weights, _metrics(weights, torch.zeros((), dtype=m.dtype, device=m.device), old_logp, rollout_logp, m)


@torch.no_grad()
def tis_token(old_logp: Tensor, rollout_logp: Tensor, mask: Tensor, *, cap: float = 2.0) -> tuple[Tensor, Metrics]:
    """Token-level TIS: w_t = min(π_trainer(o_t) / π_rollout(o_t), C). C = 2 as in the
    DAPO-32B TIS recipe (yaof20/verl `tis_imp_ratio_cap`). Truncation bounds the variance at
    the price of a bias; `correction/clipped_frac` is the fraction of tokens truncated."""
    if cap <= 0:
        raise ValueError(f"cap must be > 0 (the largest importance weight), got {cap}")
    m = mask.to(old_logp.dtype)
    ratio = torch.exp(_token_log_ratio(old_logp, rollout_logp, m))
    weights = ratio.clamp(max=cap)
    clipped = ((ratio > cap).to(m.dtype) * m).sum() / m.sum().clamp(min=1)
    return weights, _metrics(weights, clipped, old_logp, rollout_logp, m)


@torch.no_grad()
def tis_seq(old_logp: Tensor, rollout_logp: Tensor, mask: Tensor, *, cap: float = 2.0) -> tuple[Tensor, Metrics]:
    """Sequence-level TIS: w_i = min(Π_t π_trainer(o_t) / π_rollout(o_t), C), the same for every
    token of sequence i (verl's rollout correction, sequence mode). Unbiased before the cap,
    but the product over tokens has a far larger variance than a token ratio, so the cap acts
    more often; `correction/clipped_frac` is the fraction of sequences truncated."""
    if cap <= 0:
        raise ValueError(f"cap must be > 0 (the largest importance weight), got {cap}")
    m = mask.to(old_logp.dtype)
    ratio = torch.exp(_seq_log_ratio(old_logp, rollout_logp, m))
    weights = ratio.clamp(max=cap).unsqueeze(-1).expand_as(old_logp).clone()
    return weights, _metrics(weights, _rows_frac(ratio > cap, m), old_logp, rollout_logp, m)


@torch.no_grad()
def mis_seq(old_logp: Tensor, rollout_logp: Tensor, mask: Tensor, *, threshold: float = 2.0) -> tuple[Tensor, Metrics]:
    """Sequence-level masking (rejection): a sequence whose ratio Π_t π_trainer / π_rollout is
    above `threshold` or below 1/`threshold` gets weight 0, every other one weight 1 (verl's
    rollout correction in its rejection mode). `correction/clipped_frac` is the fraction of
    sequences dropped."""
    if threshold <= 1:
        raise ValueError(f"threshold must be > 1 (sequences outside [1/threshold, threshold] are dropped), got {threshold}")
    m = mask.to(old_logp.dtype)
    log_ratio = _seq_log_ratio(old_logp, rollout_logp, m)
    dropped = log_ratio.abs() > math.log(threshold)
    weights = (~dropped).to(m.dtype).unsqueeze(-1).expand_as(old_logp).clone()
    return weights, _metrics(weights, _rows_frac(dropped, m), old_logp, rollout_logp, m)


CORRECTIONS: dict[str, Callable[..., tuple[Tensor, Metrics]]] = {
    "none": none,
    "tis_token": tis_token,
    "tis_seq": tis_seq,
    "mis_seq": mis_seq,
}
