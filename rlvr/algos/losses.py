"""Policy losses.

Signature of every entry: `LOSSES[name](logp, old_logp, advantages, mask, **hyper) ->
(loss, metrics)` with `logp`, `old_logp`, `mask`: `[B, T]` (completion tokens; `logp`
carries gradients), `advantages`: `[B]` (one per sequence) or `[B, T]` (per token). `metrics`
is a dict of detached scalar tensors; the trainer averages them over micro-batches (weighted
by tokens), except names ending in `_max`, whose maximum it keeps. `reduce` is a name in
`REDUCE` or a callable with the REDUCE signature (the trainer passes one bound to the
mini-batch's totals). Sequence-level losses (`gspo`, `gmpo`) compute one loss per sequence,
give it to each of the sequence's tokens and pass that `[B, T]` tensor to `reduce`, so every
reduction and every per-token weight (rollout correction) applies to them unchanged.
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


def _masked_max(x: Tensor, mask: Tensor) -> Tensor:
    """Maximum of a non-negative `x` over masked-in entries (0 when there are none)."""
    return torch.where(mask > 0, x, torch.zeros_like(x)).max()


def _seq_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Per-sequence masked mean `[B]`; an all-masked row gives 0."""
    return (x * mask).sum(-1) / mask.sum(-1).clamp(min=1)


def _seq_advantages(advantages: Tensor, mask: Tensor) -> Tensor:
    """One advantage per sequence `[B]`: per-token ones `[B, T]` are averaged over the
    sequence's masked tokens (sequence-level losses have one ratio per sequence)."""
    return advantages if advantages.dim() == 1 else _seq_mean(advantages, mask.to(advantages.dtype))


def _surrogate(ratio: Tensor, adv: Tensor, clip_low: float, clip_high: float) -> tuple[Tensor, Tensor]:
    """PPO's pessimistic clipped surrogate −min(r Â, clip(r, 1−ε_low, 1+ε_high) Â), and
    whether the clipped branch was taken (no gradient there)."""
    unclipped = ratio * adv
    clipped = torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high) * adv
    return -torch.minimum(unclipped, clipped), (clipped < unclipped).detach()


def _token_kl(log_ratio: Tensor, mask: Tensor) -> Tensor:
    # k3 estimate of KL(old || new) from tokens sampled by old: r − 1 − log r (Schulman 2020)
    return _masked_mean(torch.exp(log_ratio) - 1.0 - log_ratio, mask)


@linear_in_advantage
def ppo_clip(logp: Tensor, old_logp: Tensor, advantages: Tensor, mask: Tensor, *,
             clip_low: float = 0.2, clip_high: float = 0.2, dual_clip: float | None = None,
             reduce: str | Callable[..., Tensor] = "token_mean") -> tuple[Tensor, Metrics]:
    """Clipped surrogate (PPO, arXiv 1707.06347 Eq. 7; GRPO, arXiv 2402.03300 Eq. 3):

        ℓ_t = −min(r_t Â_t, clip(r_t, 1 − ε_low, 1 + ε_high) Â_t),   r_t = exp(logp − old_logp)

    Asymmetric ε (`clip_high` > `clip_low`) is DAPO's clip-higher (arXiv 2503.14476 §3.1).
    `dual_clip` = c > 1 is dual-clip PPO (Ye et al., arXiv 1912.09729; verl's
    `clip_ratio_c`, 3 by default there, 10 in its DAPO recipe): for Â_t < 0 the loss is also
    capped at −Â_t·c, so one token whose ratio has run far above 1 cannot dominate the step.
    The log-ratio is clamped to ±20 before `exp` (as verl does) so a stale token cannot
    overflow; at ratio 1 the gradient is REINFORCE's: −Â ∇logp.
    """
    if dual_clip is not None and dual_clip <= 1.0:
        raise ValueError(f"dual_clip must be > 1 (a cap c on the ratio of negative-advantage tokens), got {dual_clip}")
    adv = per_token(advantages, logp)
    log_ratio = torch.clamp(logp - old_logp, min=-20.0, max=20.0)
    ratio = torch.exp(log_ratio)
    token_loss, is_clipped = _surrogate(ratio, adv, clip_low, clip_high)
    m = mask.to(logp.dtype)
    metrics: Metrics = {}
    if dual_clip is not None:
        cap = -adv * dual_clip
        is_capped = (adv < 0) & (token_loss > cap)
        token_loss = torch.where(is_capped, cap, token_loss)
        metrics["dual_clip_frac"] = _masked_mean(is_capped.to(logp.dtype), m)
    loss = resolve_reduce(reduce)(token_loss, mask)
    with torch.no_grad():
        metrics.update({
            "clip_frac": _masked_mean(is_clipped.to(logp.dtype), m),
            "ratio_mean": _masked_mean(ratio, m),
            "ratio_max": _masked_max(ratio, m),
            "approx_kl": _token_kl(log_ratio, m),
        })
    return loss, metrics


def _sequence_log_ratio(logp: Tensor, old_logp: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Token log-ratios `[B, T]` (clamped to ±20 like `ppo_clip`) and their masked mean per
    sequence `[B]`, log s_i = (1/|o_i|) Σ_t δ_{i,t} (GSPO, arXiv 2507.18071 §4)."""
    log_ratio = torch.clamp(logp - old_logp, min=-20.0, max=20.0)
    return log_ratio, _seq_mean(log_ratio, mask)


def _sequence_metrics(seq_ratio: Tensor, clip_frac: Tensor, log_ratio: Tensor, m: Tensor) -> Metrics:
    """Metrics of a loss with one ratio per sequence: the ratio's mean and maximum over the
    sequences that have at least one token; `approx_kl` from the token log-ratios, as in
    `ppo_clip`."""
    with torch.no_grad():
        seq_ratio, has = seq_ratio.detach(), (m.sum(-1) > 0).to(m.dtype)
        return {
            "clip_frac": clip_frac.detach(),
            "ratio_mean": _masked_mean(seq_ratio, has),
            "ratio_max": _masked_max(seq_ratio, has),
            "approx_kl": _token_kl(log_ratio.detach(), m),
        }


@linear_in_advantage
def gspo(logp: Tensor, old_logp: Tensor, advantages: Tensor, mask: Tensor, *,
         clip_low: float = 3e-4, clip_high: float = 4e-4,
         reduce: str | Callable[..., Tensor] = "seq_mean_token_mean") -> tuple[Tensor, Metrics]:
    """Group Sequence Policy Optimization (Zheng et al., arXiv 2507.18071 §4, Eq. 5):

        ℓ_i = −min(s_i Â_i, clip(s_i, 1 − ε_low, 1 + ε_high) Â_i),   s_i = exp((1/|o_i|) Σ_t δ_{i,t})

    One ratio per sequence, the geometric mean of its token ratios, with the gradient flowing
    through the mean; clipping drops whole sequences. ℓ_i is given to every token of sequence
    i and then reduced, so with the default `seq_mean_token_mean` the loss is the mean over
    sequences, as in the paper. Per-token advantages `[B, T]` are averaged over each
    sequence's masked tokens first (use `gspo_token` to keep them per token). The ranges are
    the paper's (§5.1); they are for a length-normalised ratio, not for token ratios.
    Metrics: `clip_frac` is the fraction of sequences clipped; `ratio_mean` / `ratio_max`
    are over the s_i of sequences with at least one token.
    """
    m = mask.to(logp.dtype)
    log_ratio, seq_log_ratio = _sequence_log_ratio(logp, old_logp, m)
    s = torch.exp(seq_log_ratio)
    seq_loss, is_clipped = _surrogate(s, _seq_advantages(advantages, m), clip_low, clip_high)
    loss = resolve_reduce(reduce)(seq_loss.unsqueeze(-1).expand_as(logp), mask)
    has_tokens = (m.sum(-1) > 0).to(m.dtype)
    return loss, _sequence_metrics(s, _masked_mean(is_clipped.to(m.dtype), has_tokens), log_ratio, m)


@linear_in_advantage
def gspo_token(logp: Tensor, old_logp: Tensor, advantages: Tensor, mask: Tensor, *,
               clip_low: float = 3e-4, clip_high: float = 4e-4,
               reduce: str | Callable[..., Tensor] = "seq_mean_token_mean") -> tuple[Tensor, Metrics]:
    """GSPO-token (arXiv 2507.18071 §4, the token-level variant of GSPO):

        s_{i,t} = sg[s_i] · π_θ(o_{i,t}) / sg[π_θ(o_{i,t})],
        ℓ_{i,t} = −min(s_{i,t} Â_{i,t}, clip(s_{i,t}, 1 − ε_low, 1 + ε_high) Â_{i,t})

    In value s_{i,t} = s_i; its gradient is that of log π_θ(o_{i,t}) alone, so per-token
    advantages are allowed. For sequence advantages the loss and its gradient equal `gspo`'s
    under any reduction (tested). Metrics: `clip_frac` is the fraction of tokens clipped
    (clipping is per token here); `ratio_mean` / `ratio_max` are over the s_i, as in `gspo`.
    """
    m = mask.to(logp.dtype)
    log_ratio, seq_log_ratio = _sequence_log_ratio(logp, old_logp, m)
    # log s_{i,t} = log π_θ − sg(log π_θ) + sg(log s_i): the value of s_i, the gradient of one token
    s_token = torch.exp(logp - logp.detach() + seq_log_ratio.detach().unsqueeze(-1))
    token_loss, is_clipped = _surrogate(s_token, per_token(advantages, logp), clip_low, clip_high)
    loss = resolve_reduce(reduce)(token_loss, mask)
    return loss, _sequence_metrics(torch.exp(seq_log_ratio), _masked_mean(is_clipped.to(m.dtype), m), log_ratio, m)


@linear_in_advantage
def gmpo(logp: Tensor, old_logp: Tensor, advantages: Tensor, mask: Tensor, *,
         clip_low: float = 0.4, clip_high: float = 0.4,
         reduce: str | Callable[..., Tensor] = "seq_mean_token_mean") -> tuple[Tensor, Metrics]:
    """Geometric-Mean Policy Optimization (Zhao et al., arXiv 2507.20673; the objective as
    in the authors' code, callsys/GMPO `train_zero_math_gmpo.py`):

        ℓ_i = −Â_i · exp((1/|o_i|) Σ_t d_{i,t}),
        d_{i,t} = min(δ_{i,t}, clamp(δ_{i,t}, −ε_low, ε_high)) if Â_i > 0 else max(δ_{i,t}, clamp(…))

    i.e. each token's log-ratio δ is clipped *in log space* before the geometric mean, on the
    side the advantage's sign makes pessimistic: for Â > 0 only the upper bound acts, for
    Â ≤ 0 only the lower one; a clipped token gets no gradient. ℓ_i is given to every token of
    sequence i and reduced (mean over sequences by default). Unlike the authors' code the
    mask is honoured. Per-token advantages `[B, T]` are averaged over each sequence's masked
    tokens. Metrics: `clip_frac` is the fraction of tokens clipped; `ratio_mean` /
    `ratio_max` are over the per-sequence clipped geometric means.
    """
    m = mask.to(logp.dtype)
    adv = _seq_advantages(advantages, m)
    delta = torch.clamp(logp - old_logp, min=-20.0, max=20.0)
    d_eff = torch.where((adv > 0).unsqueeze(-1), torch.clamp(delta, max=clip_high),
                        torch.clamp(delta, min=-clip_low))
    ratio = torch.exp(_seq_mean(d_eff, m))
    seq_loss = -adv * ratio
    loss = resolve_reduce(reduce)(seq_loss.unsqueeze(-1).expand_as(logp), mask)
    return loss, _sequence_metrics(ratio, _masked_mean((d_eff != delta).to(m.dtype), m), delta, m)


LOSSES: dict[str, Callable[..., tuple[Tensor, Metrics]]] = {
    "ppo_clip": ppo_clip,
    "gspo": gspo,
    "gspo_token": gspo_token,
    "gmpo": gmpo,
}
