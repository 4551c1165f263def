"""Loss aggregation: how per-token values `[B, T]` become one scalar.

This is where "same algorithm, different result" bugs live (ALGORITHMS.md §0.3), so each
mode is a named function. `total_tokens` / `total_seqs` / `batch_lengths` let the trainer
split a mini-batch into micro-batches: when they hold the mini-batch's totals (its token
count, its sequence count, the completion lengths of all its sequences), the micro-batch
results add up exactly to the value on the whole mini-batch (gradient accumulation is then
exact). When they are None, each function uses the values of its own input. A reduction
that does not need one of them ignores it.

Signature of every entry: `REDUCE[name](values[B, T], mask[B, T], *, total_tokens=None,
total_seqs=None, batch_lengths=None, **own) -> scalar tensor`.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor


def _masked_sum(values: Tensor, mask: Tensor) -> Tensor:
    return (values * mask).sum(-1)  # [B]


def token_mean(values: Tensor, mask: Tensor, *, total_tokens: float | Tensor | None = None,
               total_seqs: float | None = None, batch_lengths: Tensor | None = None) -> Tensor:
    """Σ_i Σ_t m·v / Σ_i Σ_t m — every token weighs the same (DAPO, arXiv 2503.14476 Eq. 12)."""
    denom = mask.sum() if total_tokens is None else total_tokens
    return _masked_sum(values, mask).sum() / torch.clamp(torch.as_tensor(denom, dtype=values.dtype, device=values.device), min=1)


def seq_mean_token_mean(values: Tensor, mask: Tensor, *, total_tokens: float | None = None,
                        total_seqs: float | None = None, batch_lengths: Tensor | None = None) -> Tensor:
    """(1/B) Σ_i (1/|o_i|) Σ_t m·v — the GRPO paper's aggregation (arXiv 2402.03300 Eq. 3)."""
    per_seq = _masked_sum(values, mask) / mask.sum(-1).clamp(min=1)
    return per_seq.sum() / (values.shape[0] if total_seqs is None else total_seqs)


def seq_mean_token_sum(values: Tensor, mask: Tensor, *, total_tokens: float | None = None,
                       total_seqs: float | None = None, batch_lengths: Tensor | None = None) -> Tensor:
    """(1/B) Σ_i Σ_t m·v — Dr. GRPO as written in the paper (arXiv 2503.20783 Eq. 2)."""
    return _masked_sum(values, mask).sum() / (values.shape[0] if total_seqs is None else total_seqs)


def seq_mean_token_sum_norm(values: Tensor, mask: Tensor, *, budget: float | None = None,
                            total_tokens: float | None = None, total_seqs: float | None = None,
                            batch_lengths: Tensor | None = None) -> Tensor:
    """(1/B) Σ_i Σ_t m·v / L — Dr. GRPO's released code: a constant normaliser `budget`
    (the generation budget; default the padded length T), never the sample's own length."""
    L = values.shape[-1] if budget is None else budget
    return seq_mean_token_sum(values, mask, total_seqs=total_seqs) / L


def delta_l(values: Tensor, mask: Tensor, *, alpha: float = 1.0, budget: float | None = None,
            total_tokens: float | None = None, total_seqs: float | None = None,
            batch_lengths: Tensor | None = None) -> Tensor:
    """ΔL normalisation (He et al., arXiv 2509.07558, "VL Norm" from v2 on): the
    unbiased, minimum-variance linear aggregation of per-sequence gradients,

        Σ_i x_i Σ_t m·v,    x_i = L_i^{−α} / (M · Σ_j L_j^{−α})

    with L_i the completion lengths, j running over `batch_lengths` (all sequences of the
    mini-batch; default the rows of `values`) and M = `budget` (default the padded width T).
    α = 1 minimises the gradient variance; α = 0 is `seq_mean_token_sum_norm`. Lengths of 0
    count as 1 so that L^{−α} stays finite. `total_tokens` is not needed; `total_seqs` is
    implied by `batch_lengths`, so it is refused without them: the weights of a micro-batch
    would silently be normalised over the micro-batch alone.
    """
    if total_seqs is not None and batch_lengths is None:
        raise ValueError("delta_l normalises its weights over the lengths of the whole mini-batch: "
                         "pass batch_lengths (all completion lengths) along with total_seqs")
    lengths = mask.sum(-1).to(values.dtype).clamp(min=1)
    every = lengths if batch_lengths is None else torch.as_tensor(batch_lengths, dtype=values.dtype, device=values.device).clamp(min=1)
    M = values.shape[-1] if budget is None else budget
    x = lengths.pow(-alpha) / (M * every.pow(-alpha).sum())
    return (x * _masked_sum(values, mask)).sum()


REDUCE: dict[str, Callable[..., Tensor]] = {
    "token_mean": token_mean,
    "seq_mean_token_mean": seq_mean_token_mean,
    "seq_mean_token_sum": seq_mean_token_sum,
    "seq_mean_token_sum_norm": seq_mean_token_sum_norm,
    "delta_l": delta_l,
}
