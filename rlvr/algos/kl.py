"""Per-token KL estimators between the policy and a reference (Schulman, "Approximating KL
Divergence", 2020), evaluated on tokens sampled from the policy.

With δ = log π_ref − log π_θ (per token):
  k1 = −δ                      unbiased, high variance, can be negative
  k2 = δ² / 2                  biased, low variance; its gradient is that of the reverse KL
  k3 = exp(δ) − δ − 1          unbiased, always ≥ 0 — GRPO's choice (arXiv 2402.03300 Eq. 4)

Signature of every entry: `KL[name](logp[B, T], ref_logp[B, T]) -> Tensor[B, T]`.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor


def k1(logp: Tensor, ref_logp: Tensor) -> Tensor:
    return logp - ref_logp


def k2(logp: Tensor, ref_logp: Tensor) -> Tensor:
    return 0.5 * (logp - ref_logp) ** 2


def k3(logp: Tensor, ref_logp: Tensor) -> Tensor:
    # Clamp δ like verl does: one token far off the reference must not produce inf.
    delta = torch.clamp(ref_logp - logp, min=-20.0, max=20.0)
    return torch.exp(delta) - delta - 1.0


KL: dict[str, Callable[[Tensor, Tensor], Tensor]] = {"k1": k1, "k2": k2, "k3": k3}
