"""Per-token advantages with a learned critic (PPO), and the token-level helpers around them.

Tensors are `[B, T]` over completion tokens, rows right-padded, `mask` 1 on real tokens. An
episode is one completion: the state after its last real token is terminal (value 0).

Registries:
- `TOKEN_ADVANTAGES[name](token_rewards, values, mask, **hyper) -> (advantages, returns)`,
  all `[B, T]`, zero on padding.
- `VALUE_LOSSES[name](values, old_values, returns, mask, **hyper) -> (loss, metrics)`, the
  critic's counterpart of `LOSSES` (metrics: dict of detached scalar tensors).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from rlvr.algos.losses import Metrics, _masked_mean, resolve_reduce


def gae(token_rewards: Tensor, values: Tensor, mask: Tensor, *, gamma: float = 1.0,
        lam: float = 0.95) -> tuple[Tensor, Tensor]:
    """Generalised advantage estimation GAE(γ, λ) (Schulman et al., arXiv 1506.02438 Eq. 16;
    the truncated form of PPO, arXiv 1707.06347 Eqs. 11–12):

        δ_t = r_t + γ V_{t+1} − V_t,     Â_t = Σ_{l≥0} (γλ)^l δ_{t+l} = δ_t + γλ Â_{t+1}

    with V = 0 after each row's last real token. λ = 1 gives Â_t = (return-to-go) − V_t,
    λ = 0 the one-step TD error. Returns (Â, Â + V), the critic's regression target; both are
    detached and zero on padding. The recursion runs backwards over T (each step is
    vectorised over the batch) instead of building a T×T discount matrix.
    """
    dtype = torch.promote_types(values.dtype, torch.float32)  # a bf16 critic: sum in fp32
    m = mask.to(dtype)
    r = token_rewards.detach().to(dtype) * m
    v = values.detach().to(dtype) * m
    B, T = v.shape
    adv = torch.zeros_like(v)
    next_adv = torch.zeros(B, dtype=v.dtype, device=v.device)
    next_value = torch.zeros_like(next_adv)
    for t in reversed(range(T)):
        # On padding m_t = 0, so the carried values reset to 0: the token before the first
        # padding position sees a terminal next state, whatever the padding holds.
        delta = r[:, t] + gamma * next_value - v[:, t]
        next_adv = (delta + gamma * lam * next_adv) * m[:, t]
        next_value = v[:, t]
        adv[:, t] = next_adv
    return adv, (adv + v) * m


def outcome_token_rewards(rewards: Tensor, mask: Tensor) -> Tensor:
    """Sequence rewards `[B]` as token rewards `[B, T]`: each on its row's last real token,
    zero elsewhere (the outcome reward arrives when the episode ends). A row without real
    tokens gets nothing."""
    T = mask.shape[-1]
    positions = torch.arange(T, device=mask.device).expand_as(mask)
    last = torch.where(mask > 0, positions, torch.zeros_like(positions)).argmax(-1, keepdim=True)
    out = torch.zeros(mask.shape, dtype=rewards.dtype, device=rewards.device)
    out.scatter_(1, last, rewards.unsqueeze(-1))
    return out * mask.to(rewards.dtype)


def kl_return_to_go(kl: Tensor, mask: Tensor, *, coef: float) -> Tensor:
    """−coef · Σ_{s≥t} kl_s: a per-token KL penalty treated as a reward −coef·kl_t, summed to
    the end of the sequence (γ = 1). Added to sequence advantages, it realises the
    "KL in the reward" convention of REINFORCE++ (arXiv 2501.03262) and InstructGPT-style
    PPO without a critic. Padding contributes nothing and gets 0."""
    m = mask.to(kl.dtype)
    to_go = torch.flip(torch.cumsum(torch.flip(kl * m, dims=[-1]), dim=-1), dims=[-1])
    return -coef * to_go * m


def whiten(x: Tensor, mask: Tensor, *, eps: float = 1e-8, shift_mean: bool = True) -> Tensor:
    """(x − mean) / (std + eps) over the masked entries of the whole tensor, with the
    population std (as OpenRLHF whitens advantages); padding gets 0. `shift_mean=False` only
    rescales, x / (std + eps), for inputs whose mean is zero by construction — the
    subtraction would only add rounding noise to exact zeros."""
    m = mask.to(x.dtype)
    n = m.sum().clamp(min=1)
    # Shift by one real entry before averaging: constant data then centres to exactly 0,
    # where a rounded float mean would leave noise that the division by eps blows up.
    d = (x - x.flatten()[m.flatten().argmax()]) * m
    centred = d - d.sum() / n
    std = ((centred ** 2 * m).sum() / n).sqrt()
    return (centred if shift_mean else x) / (std + eps) * m


def value_loss(values: Tensor, old_values: Tensor, returns: Tensor, mask: Tensor, *,
               clip: float = 0.2,
               reduce: str | Callable[..., Tensor] = "token_mean") -> tuple[Tensor, Metrics]:
    """PPO's clipped value loss, per token

        ℓ_t = ½ · max( (V_t − R_t)², (clip(V_t, V_old,t − c, V_old,t + c) − R_t)² )

    reduced with `reduce` (a REDUCE name or a callable with its signature). Value clipping is
    not in the PPO paper; it comes from OpenAI's baselines code and is one of the "code-level
    optimizations" studied by Engstrom et al. (arXiv 2005.12729). Taking the max keeps the
    pessimistic branch: a value that moved more than c from V_old gets no gradient when
    moving back would not help. `clip` ≤ 0 gives the plain ½(V − R)².
    """
    unclipped = (values - returns) ** 2
    if clip > 0:
        v_clipped = old_values + torch.clamp(values - old_values, -clip, clip)
        clipped = (v_clipped - returns) ** 2
        token_loss = 0.5 * torch.maximum(unclipped, clipped)
    else:
        clipped = unclipped
        token_loss = 0.5 * unclipped
    loss = resolve_reduce(reduce)(token_loss, mask)
    with torch.no_grad():
        m = mask.to(values.dtype)
        metrics = {
            "value/clip_frac": _masked_mean((clipped > unclipped).to(values.dtype), m),
            "value/mean": _masked_mean(values, m),
            "value/error": _masked_mean((values - returns).abs(), m),
        }
    return loss, metrics


TOKEN_ADVANTAGES: dict[str, Callable[..., tuple[Tensor, Tensor]]] = {"gae": gae}
VALUE_LOSSES: dict[str, Callable[..., tuple[Tensor, Metrics]]] = {"clipped_mse": value_loss}
