"""Policy losses.

Signature of every entry: `LOSSES[name](logp, old_logp, advantages, mask, **hyper) ->
(loss, metrics)` with `logp`, `old_logp`, `mask`: `[B, T]` (completion tokens; `logp`
carries gradients), `advantages`: `[B]` (one per sequence) or `[B, T]` (per token). `metrics`
is a dict of detached scalar tensors; the trainer averages them over micro-batches (weighted
by tokens), except names ending in `_max`, whose maximum it keeps. `reduce` is a name in `REDUCE` or a callable with the
REDUCE signature (the trainer passes one bound to the mini-batch's totals).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from rlvr.algos.reduce import REDUCE

Metrics = dict[str, Tensor]


def linear_in_advantage(fn: Callable) -> Callable:
    """Marks a loss whose value and gradient are exactly zero for a sequence with zero
    advantage, so the trainer may skip the forward/backward of such sequences (groups whose
    rewards are all equal) without changing the update by a single bit."""
    fn.linear_in_advantage = True
    return fn


def resolve_reduce(reduce: str | Callable[..., Tensor]) -> Callable[..., Tensor]:
    return REDUCE[reduce] if isinstance(reduce, str) else reduce


def per_token(advantages: Tensor, like: Tensor) -> Tensor:
    """Sequence advantages `[B]` broadcast to `[B, T]`; per-token ones pass through."""
    return advantages.unsqueeze(-1).expand_as(like) if advantages.dim() == 1 else advantages


def _masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    return (x * mask).sum() / mask.sum().clamp(min=1)


@linear_in_advantage
def ppo_clip(logp: Tensor, old_logp: Tensor, advantages: Tensor, mask: Tensor, *,
             clip_low: float = 0.2, clip_high: float = 0.2,
             reduce: str | Callable[..., Tensor] = "token_mean") -> tuple[Tensor, Metrics]:
    """Clipped surrogate (PPO, arXiv 1707.06347 Eq. 7; GRPO, arXiv 2402.03300 Eq. 3):

        ℓ_t = −min(r_t Â_t, clip(r_t, 1 − ε_low, 1 + ε_high) Â_t),   r_t = exp(logp − old_logp)

    Asymmetric ε (`clip_high` > `clip_low`) is DAPO's clip-higher (arXiv 2503.14476 §3.1).
    The log-ratio is clamped to ±20 before `exp` (as verl does) so a stale token cannot
    overflow; at ratio 1 the gradient is REINFORCE's: −Â ∇logp.
    """
    adv = per_token(advantages, logp)
    log_ratio = torch.clamp(logp - old_logp, min=-20.0, max=20.0)
    ratio = torch.exp(log_ratio)
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high) * adv
    token_loss = -torch.minimum(unclipped, clipped)
    loss = resolve_reduce(reduce)(token_loss, mask)
    with torch.no_grad():
        m = mask.to(logp.dtype)
        is_clipped = (clipped < unclipped).to(logp.dtype)  # the clipped branch was taken
        metrics = {
            "clip_frac": _masked_mean(is_clipped, m),
            "ratio_mean": _masked_mean(ratio, m),
            "ratio_max": torch.where(m > 0, ratio, torch.zeros_like(ratio)).max(),
            # k3 estimate of KL(old || new) from tokens sampled by old: r − 1 − log r (Schulman 2020)
            "approx_kl": _masked_mean(ratio - 1.0 - log_ratio, m),
        }
    return loss, metrics


LOSSES: dict[str, Callable[..., tuple[Tensor, Metrics]]] = {"ppo_clip": ppo_clip}
