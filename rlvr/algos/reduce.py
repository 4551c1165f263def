"""Loss aggregation: how per-token values `[B, T]` become one scalar.

This is where "same algorithm, different result" bugs live (ALGORITHMS.md §0.3), so each
mode is a named function. `total_tokens` / `total_seqs` let the trainer split a mini-batch
into micro-batches: when they hold the mini-batch's totals, the micro-batch results add up
exactly to the value on the whole mini-batch (gradient accumulation is then exact).

Signature of every entry: `REDUCE[name](values[B, T], mask[B, T], *, total_tokens=None,
total_seqs=None, **own) -> scalar tensor`.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor


def _masked_sum(values: Tensor, mask: Tensor) -> Tensor:
    return (values * mask).sum(-1)  # [B]


def token_mean(values: Tensor, mask: Tensor, *, total_tokens: float | Tensor | None = None,
               total_seqs: float | None = None) -> Tensor:
    """Σ_i Σ_t m·v / Σ_i Σ_t m — every token weighs the same (DAPO, arXiv 2503.14476 Eq. 12)."""
    denom = mask.sum() if total_tokens is None else total_tokens
    return _masked_sum(values, mask).sum() / torch.clamp(torch.as_tensor(denom, dtype=values.dtype), min=1)


def seq_mean_token_mean(values: Tensor, mask: Tensor, *, total_tokens: float | None = None,
                        total_seqs: float | None = None) -> Tensor:
    """(1/B) Σ_i (1/|o_i|) Σ_t m·v — the GRPO paper's aggregation (arXiv 2402.03300 Eq. 3)."""
    per_seq = _masked_sum(values, mask) / mask.sum(-1).clamp(min=1)
    return per_seq.sum() / (values.shape[0] if total_seqs is None else total_seqs)


def seq_mean_token_sum(values: Tensor, mask: Tensor, *, total_tokens: float | None = None,
                       total_seqs: float | None = None) -> Tensor:
    """(1/B) Σ_i Σ_t m·v — Dr. GRPO as written in the paper (arXiv 2503.20783 Eq. 2)."""
    return _masked_sum(values, mask).sum() / (values.shape[0] if total_seqs is None else total_seqs)


def seq_mean_token_sum_norm(values: Tensor, mask: Tensor, *, budget: float | None = None,
                            total_tokens: float | None = None, total_seqs: float | None = None) -> Tensor:
    """(1/B) Σ_i Σ_t m·v / L — Dr. GRPO's released code: a constant normaliser `budget`
    (the generation budget; default the padded length T), never the sample's own length."""
    L = values.shape[-1] if budget is None else budget
    return seq_mean_token_sum(values, mask, total_seqs=total_seqs) / L


REDUCE: dict[str, Callable[..., Tensor]] = {
    "token_mean": token_mean,
    "seq_mean_token_mean": seq_mean_token_mean,
    "seq_mean_token_sum": seq_mean_token_sum,
    "seq_mean_token_sum_norm": seq_mean_token_sum_norm,
}
