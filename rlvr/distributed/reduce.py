"""The denominators of a mini-batch split across processes — where data-parallel RL silently
goes wrong.

Every REDUCE entry (`rlvr/algos/reduce.py`) divides by a property of the whole mini-batch:
its token count (`token_mean`), its sequence count (`seq_mean_*`), the lengths of all its
sequences (`delta_l`). A process that reduces its own share with its own counts and then
averages gradients with the others computes a different loss: with shares of 10 and 30
tokens, token-mean weighs each token of the first share three times as much as one of the
second. The rule here: each process reduces its share with the *global* totals of the
mini-batch, and the gradients are *summed* over processes (never averaged), so the sum of the
shares' losses is the one-process loss exactly (up to the order of float additions).

In the training loop every process holds the whole batch (the rollout is the same in each),
so `PolicyObjective.begin` already computes the global totals from the whole mini-batch and
only the rows are shared (`micro_batches`). `global_totals` computes the same totals when each
process holds only its own rows; the tests check that both agree with one process.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor


def share(rows: Tensor, rank: int, world: int) -> Tensor:
    """Process `rank`'s contiguous share of `rows`: the first `len % world` shares hold one row
    more (torch.tensor_split)."""
    return rows.tensor_split(world)[rank]


def micro_batches(rows: Tensor, micro_size: int, rank: int, world: int) -> list[tuple[Tensor, bool]]:
    """This process's micro-batches of a mini-batch's `rows`, padded to the count of the
    largest share with stand-ins (`(rows[:1], False)`): under FSDP every forward and backward
    pass is a collective, so every process must make as many as the others. A stand-in's loss
    is multiplied by 0 (`rlvr.optimise`)."""
    if not len(rows):
        return []
    mine = share(rows, rank, world)
    n = math.ceil(math.ceil(len(rows) / world) / micro_size)
    parts = [(r, True) for r in mine.split(micro_size)] if len(mine) else []
    return parts + [(rows[:1], False)] * (n - len(parts))


def global_totals(mask: Tensor, live: Tensor | None = None, group=None) -> dict:
    """The REDUCE totals of the whole mini-batch from this process's rows: `mask` [b, T] its
    rows' loss mask, `live` [b] which of them are in the loss (None: all). Returns what
    `PolicyObjective.begin` passes: `total_tokens` (Σ of every process's mask), `total_seqs`
    (every process's live rows, at least 1) and `batch_lengths` (the lengths of every live row,
    in rank order). A collective: every process of `group` calls it."""
    import torch.distributed as dist

    live = torch.ones(len(mask), dtype=torch.bool, device=mask.device) if live is None else live
    counts = torch.stack([mask.sum().to(torch.float64), live.sum().to(torch.float64)])
    dist.all_reduce(counts, group=group)
    lengths = mask[live].sum(-1)
    every: list = [None] * dist.get_world_size(group)
    dist.all_gather_object(every, lengths.cpu(), group=group)
    return {"total_tokens": counts[0].to(mask.dtype), "total_seqs": max(int(counts[1]), 1),
            "batch_lengths": torch.cat(every).to(mask.device)}
