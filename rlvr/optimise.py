"""The optimisation every method shares: epochs × mini-batches × micro-batches.

`optimise(objective, ...)` runs `passes.epochs` passes over a batch of `n_rows` rows; each
pass splits the rows (in order, or in a seeded permutation) into mini-batches, one optimizer
step each, and accumulates each mini-batch's gradient over micro-batches. The objective
computes a micro-batch's loss with the mini-batch's denominators (its `begin` is told the
mini-batch first), so the accumulated gradient equals the whole mini-batch's exactly. A
non-finite loss or gradient norm stops the run before the optimizer step (issue 9).

`parallel` says which of a mini-batch's rows run in this process: `ONE_PROCESS` (the default)
runs them all; `rlvr.distributed.DataParallel` gives each of N processes its share and sums
the losses, metrics and gradient norm over them (docs/scale.md).
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor


class NonFiniteError(RuntimeError):
    """A loss or gradient became NaN or infinite: the run stops before the optimizer step, so
    no NaN reaches the weights or a checkpoint (issue 9 item 8)."""


def check_finite(step: int, what: str, value: float) -> None:
    if not math.isfinite(value):
        raise NonFiniteError(f"step {step}: the {what} is {value}; the optimizer step was not taken and the "
                             "weights are unchanged by it (lower optim.lr, or check the rewards and data)")


@dataclass(frozen=True)
class Passes:
    epochs: int
    """Passes over the batch (μ)."""
    mini_size: int
    """Rows per optimizer step."""
    micro_size: int
    """Rows per forward/backward pass."""
    grad_clip: float
    """Global gradient-norm clip (0: none)."""
    seed: int | None
    """None: the rows in order (one on-policy pass needs no shuffle); else each epoch's order
    is a permutation seeded by `seed + step·1009 + epoch`, so a resumed run draws the same."""


class Objective(Protocol):
    name: str
    """Names the loss in errors ("policy", "value")."""
    grad_norm_key: str
    """The metric that logs the gradient norm of each optimizer step."""
    fill_missing_grads: bool
    """Give parameters without a gradient a zero one (rows skipped at zero advantage leave
    some untouched; Adam must still see the zero)."""

    def begin(self, mini_batch: Tensor) -> Tensor:
        """Prepare the mini-batch's denominators; return the rows to run (all, or fewer)."""

    def micro(self, rows: Tensor) -> tuple[Tensor, dict, float]:
        """(loss with gradients, metrics, their weight — usually the tokens) of `rows`."""


class Parallel(Protocol):
    def micro_batches(self, rows: Tensor, micro_size: int) -> list[tuple[Tensor, bool]]:
        """This process's micro-batches of a mini-batch's `rows`, each with whether it counts
        (False: a stand-in run only so that every process makes the same passes; its loss is
        multiplied by 0)."""

    def total(self, value: float) -> float:
        """The sum over processes of a per-process sum (the mini-batch loss)."""

    def clip_grad_norm(self, params: list, max_norm: float) -> Tensor:
        """Clip to `max_norm`; return the norm of the whole gradient."""

    def merge(self, tally: "Tally") -> "Tally":
        """The tally of every process's micro-batches."""


class OneProcess:
    """Every row runs here: the loop as it always was."""

    def micro_batches(self, rows: Tensor, micro_size: int) -> list[tuple[Tensor, bool]]:
        return [(r, True) for r in rows.split(micro_size)] if len(rows) else []

    def total(self, value: float) -> float:
        return value

    def clip_grad_norm(self, params: list, max_norm: float) -> Tensor:
        return torch.nn.utils.clip_grad_norm_(params, max_norm)

    def merge(self, tally: "Tally") -> "Tally":
        return tally


ONE_PROCESS = OneProcess()


class Tally:
    """Step metrics from many micro-batches: names ending in `_max` keep their maximum, the
    rest a weighted mean; `last` holds values where only the latest counts (the lr)."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = defaultdict(float)
        self.weights: dict[str, float] = defaultdict(float)
        self.maxima: dict[str, float] = {}
        self.last: dict[str, float] = {}

    def add(self, key: str, value: float, weight: float) -> None:
        if key.endswith("_max"):
            self.maxima[key] = max(self.maxima.get(key, -math.inf), value)
        else:
            self.sums[key] += value * weight
            self.weights[key] += weight

    def result(self) -> dict[str, float]:
        means = {k: v / self.weights[k] for k, v in self.sums.items() if self.weights[k] > 0}
        return {**means, **self.maxima, **self.last}


@dataclass
class Optimised:
    metrics: dict[str, float]
    """The tally of every micro-batch's metrics and each step's gradient norm (and lr)."""
    mean_loss: float
    """Mean over optimizer steps of the mini-batch loss."""
    rows_per_epoch: float
    """Rows that ran forward and backward, per epoch."""


def optimise(objective: Objective, *, params: list, optimizer, passes: Passes, n_rows: int, step: int,
             scheduler=None, parallel: Parallel = ONE_PROCESS) -> Optimised:
    tally = Tally()
    n_steps, trained, loss_sum = 0, 0, 0.0
    for epoch in range(passes.epochs):
        order = torch.arange(n_rows)
        if passes.seed is not None:
            order = torch.randperm(n_rows, generator=torch.Generator().manual_seed(passes.seed + step * 1009 + epoch))
        for mb in order.split(passes.mini_size):
            rows_to_run = objective.begin(mb)
            optimizer.zero_grad(set_to_none=True)
            trained += len(rows_to_run)
            mini_loss = 0.0
            for rows, counts in parallel.micro_batches(rows_to_run, passes.micro_size):
                loss, metrics, weight = objective.micro(rows)
                if not counts:  # a stand-in pass: the same collectives as the others, no gradient
                    (loss * 0.0).backward()
                    continue
                loss.backward()
                mini_loss += float(loss.detach())  # micro-batch losses add up to the mini-batch's
                for k, v in metrics.items():
                    tally.add(k, float(v), weight)
            mini_loss = parallel.total(mini_loss)
            if objective.fill_missing_grads:
                for p in params:
                    if p.grad is None:
                        p.grad = torch.zeros_like(p)
            grad_norm = parallel.clip_grad_norm(params, passes.grad_clip if passes.grad_clip > 0 else math.inf)
            check_finite(step, f"{objective.name} loss", mini_loss)
            check_finite(step, f"{objective.name} gradient norm", float(grad_norm))
            loss_sum += mini_loss
            tally.add(objective.grad_norm_key, float(grad_norm), 1.0)
            if scheduler is not None:
                tally.last["lr"] = scheduler.get_last_lr()[0]
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            n_steps += 1
    return Optimised(parallel.merge(tally).result(), loss_sum / max(n_steps, 1), trained / passes.epochs)
