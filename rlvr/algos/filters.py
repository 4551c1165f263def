"""GFPO — Group Filtered Policy Optimization (Shrivastava et al., arXiv 2508.09726).

Sample a larger group, keep the k responses that score best on a metric (shortest, or most
reward per token), and compute advantages from the kept responses only; the rejected ones get
advantage 0. Training on the filtered group is what curbs length inflation.

Signature of every filter: `GROUP_FILTERS[name](rewards[P, G], lengths[P, G], keep[P]) ->
Tensor[P, G]` (bool), exactly `keep[p]` True in row p; ties go to the lower index, so the
choice is deterministic.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor


def _keep_lowest(score: Tensor, keep: Tensor) -> Tensor:
    """Mask of the keep[p] lowest scores of each row; a stable sort breaks ties by index."""
    G = score.shape[1]
    keep = keep.to(device=score.device, dtype=torch.long).reshape(-1, 1)
    if bool(((keep < 1) | (keep > G)).any()):
        raise ValueError(f"every group must keep between 1 and {G} responses (the group size); "
                         f"got keep = {keep.flatten().tolist()}: lower the filter's keep count "
                         f"or raise rollout.group_size")
    order = torch.sort(score, dim=1, stable=True).indices
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(G, device=score.device).expand_as(order))
    return rank < keep


def shortest(rewards: Tensor, lengths: Tensor, keep: Tensor) -> Tensor:
    """Keep the keep[p] shortest responses (GFPO's length filter)."""
    return _keep_lowest(lengths.to(torch.float64), keep)


def token_efficiency(rewards: Tensor, lengths: Tensor, keep: Tensor) -> Tensor:
    """Keep the keep[p] responses with the highest reward per token R / |o| (GFPO's token
    efficiency filter); lengths are clamped to ≥ 1.

    Beware negative rewards: R/|o| of a wrong answer (R < 0) grows towards 0 with its length,
    so among wrong answers this metric prefers the longest — the opposite of the intent. The
    paper's rewards lie in [−1, 1]; shift them to be non-negative if that matters."""
    efficiency = rewards.to(torch.float64) / lengths.to(torch.float64).clamp(min=1)
    return _keep_lowest(-efficiency, keep)


def adaptive_keep(group_means: Tensor, history: Tensor, *, keeps: Sequence[int] = (8, 8, 6, 4),
                  min_history: int = 16) -> Tensor:
    """Adaptive-difficulty GFPO: how many responses each prompt keeps `[P]` (long).

    A prompt's difficulty is its mean reward m over its group; against the quartiles q25, q50,
    q75 of `history` (mean rewards of earlier prompts) it falls in bucket 0 (m ≤ q25, very
    hard), 1 (m ≤ q50), 2 (m ≤ q75) or 3 (easy), and keeps `keeps[bucket]` — hard prompts are
    filtered less and keep more. A mean on a boundary counts as the harder bucket: with 0/1
    rewards most early prompts share the mean 0, the quartiles tie at 0, and the paper's strict
    `m < q` would put every one of them, the hardest, in the easy bucket with the smallest k. The paper's defaults for G = 16: 8, 8, 6,
    4. Until `history` holds `min_history` values every prompt keeps max(keeps), the paper's
    warm-up. The paper streams the means into a t-digest (approximate quantiles, updated with
    the current prompt before it is queried); here the quantiles are exact over `history`, and
    the caller decides whether it includes the current batch.
    """
    if len(keeps) != 4:
        raise ValueError(f"keeps must give 4 counts (very hard, hard, medium, easy); got {list(keeps)}")
    table = torch.as_tensor(list(keeps), dtype=torch.long, device=group_means.device)
    if history.numel() < min_history:
        return torch.full(group_means.shape, int(table.max()), dtype=torch.long, device=group_means.device)
    q = torch.quantile(history.to(torch.float64).flatten(),
                       torch.tensor([0.25, 0.5, 0.75], dtype=torch.float64, device=history.device))
    # right=False: bucket i holds q[i−1] < m ≤ q[i] — ties go to the hardest bucket they touch
    bucket = torch.bucketize(group_means.to(torch.float64), q.to(group_means.device), right=False)
    return table[bucket]


def filtered_advantages(advantage_fn: Callable[[Tensor], Tensor], rewards: Tensor,
                        keep_mask: Tensor) -> Tensor:
    """Advantages `[P, G]` computed from each row's kept rewards only (GFPO's μ_S, σ_S);
    rejected responses get 0.

    `advantage_fn` maps rewards `[n, k]` to advantages `[n, k]` with rows independent (every
    group-relative entry of ADVANTAGES, e.g. `partial(grpo, unbiased=False)` for the paper's
    σ_S). Rows keeping the same number k are evaluated in one call, in their original order.
    The rejected responses still sit in the batch: with a token-mean reduction they count in
    the denominator, as in the paper's 1/Σ_{i=1}^{G}|o_i| — only their gradient is zero.
    """
    out = torch.zeros_like(rewards)
    kept_per_row = keep_mask.sum(dim=1)
    for k in kept_per_row.unique().tolist():
        rows = (kept_per_row == k).nonzero().squeeze(1)
        sub_mask = keep_mask[rows]
        kept = rewards[rows][sub_mask].view(len(rows), k)  # boolean indexing is row-major
        sub = torch.zeros_like(rewards[rows])
        sub[sub_mask] = advantage_fn(kept).reshape(-1).to(rewards.dtype)
        out[rows] = sub
    return out


GROUP_FILTERS: dict[str, Callable[[Tensor, Tensor, Tensor], Tensor]] = {
    "shortest": shortest,
    "token_efficiency": token_efficiency,
}
