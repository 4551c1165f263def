"""`DataParallel`: one of N torchrun processes of a run (rlvr/distributed/__init__.py).

What each process does differently from one process, and nothing else:
- the model's parameters are sharded with FSDP2 (`fsdp.shard_model`); forward passes gather
  them, so every process takes part in every pass — generation, scoring and evaluation run
  the same work in every process, in step;
- each mini-batch's rows are shared (`reduce.micro_batches`), the gradients summed by FSDP's
  reduce-scatter (divide factor 1), the loss, metrics and gradient norm summed over processes;
- only the first process writes the run folder; checkpoints are gathered to it in the
  one-process format (`state.py`).
"""
from __future__ import annotations

import math
import os
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
from torch import Tensor

from rlvr.checkpoint import save_checkpoint
from rlvr.distributed.launch import check_several_processes
from rlvr.distributed import reduce, state
from rlvr.distributed.fsdp import shard_model
from rlvr.optimise import Tally
from rlvr.runlog import RunLog


class QuietLog:
    """The log of a process other than the first: the first writes the run folder, and every
    process computes the same metrics."""

    def log(self, step: int, metrics: dict) -> None:
        pass

    def samples(self, step: int, rows: list) -> None:
        pass


class DataParallel:
    def __init__(self, rank: int, world: int, group=None) -> None:
        self.rank, self.world, self.group = rank, world, group
        self.is_main = rank == 0

    @classmethod
    def from_env(cls, device_spec: str = "cpu") -> "DataParallel":
        """Join the process group torchrun describes (RANK, WORLD_SIZE, MASTER_ADDR, …): NCCL
        when the model runs on CUDA, else gloo. Each process uses the GPU of its LOCAL_RANK."""
        cuda = device_spec.startswith("cuda") or (device_spec == "auto" and torch.cuda.is_available())
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        if not dist.is_initialized():
            dist.init_process_group("nccl" if cuda else "gloo", timeout=timedelta(minutes=30))
        return cls(dist.get_rank(), dist.get_world_size())

    # -- the rows of a mini-batch (rlvr.optimise.Parallel) ------------------------------------
    def micro_batches(self, rows: Tensor, micro_size: int) -> list[tuple[Tensor, bool]]:
        return reduce.micro_batches(rows, micro_size, self.rank, self.world)

    def total(self, value: float) -> float:
        t = torch.tensor([value], dtype=torch.float64, device=self._device())
        dist.all_reduce(t, group=self.group)
        return float(t)

    def clip_grad_norm(self, params: list, max_norm: float) -> Tensor:
        """`torch.nn.utils.clip_grad_norm_` over the whole (sharded) gradient: the squares of
        every process's shards summed, then the same clip coefficient as torch's."""
        grads = [p.grad for p in params if p.grad is not None]
        local = [g.to_local() if hasattr(g, "to_local") else g for g in grads]
        squares = torch.zeros(1, dtype=torch.float64, device=self._device())
        for g in local:
            squares += g.detach().double().pow(2).sum().to(squares.device)
        dist.all_reduce(squares, group=self.group)
        norm = squares.sqrt().float().squeeze()
        if math.isfinite(max_norm) and grads:
            coef = torch.clamp(max_norm / (norm + 1e-6), max=1.0)
            for g in local:
                g.detach().mul_(coef.to(g.device))
        return norm

    def merge(self, tally: Tally) -> Tally:
        parts: list = [None] * self.world
        dist.all_gather_object(parts, (dict(tally.sums), dict(tally.weights), tally.maxima, tally.last),
                               group=self.group)
        merged = Tally()
        for sums, weights, maxima, last in parts:
            for k, v in sums.items():
                merged.sums[k] += v
                merged.weights[k] += weights[k]
            for k, v in maxima.items():
                merged.maxima[k] = max(merged.maxima.get(k, -math.inf), v)
            merged.last.update(last)
        return merged

    # -- the run ----------------------------------------------------------------------------
    def check_config(self, cfg) -> None:
        """What several processes cannot run yet, refused before the model loads."""
        check_several_processes(cfg, self.world)

    def on_main(self, decide):
        """`decide()` run by the first process; its result (or its error, raised again) is
        given to every process, so that none waits for a process that failed."""
        outcome = None
        if self.is_main:
            try:
                outcome = decide()
            except Exception as e:  # every process raises it, not just the first
                outcome = e
        outcome = self.broadcast(outcome)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def run_log(self, run_dir: Path, **kw):
        return RunLog(run_dir, **kw) if self.is_main else QuietLog()

    def shard(self, model) -> None:
        shard_model(model)

    def broadcast(self, value):
        box = [value]
        dist.broadcast_object_list(box, src=0, group=self.group)
        return box[0]

    def barrier(self) -> None:
        dist.barrier(group=self.group)

    def full_weights(self, model) -> dict:
        """Every weight gathered whole on the first process (empty elsewhere): a collective."""
        return state.full_weights(model)

    def optimizer_state(self, optimizer, model) -> dict:
        return state.full_optimizer_state(model, optimizer)

    def load_optimizer_state(self, optimizer, model, saved: dict) -> None:
        state.load_full_optimizer_state(model, optimizer, saved)

    def save_checkpoint(self, run_dir: Path, step: int, model, tokenizer, saved: dict, weights: dict, *,
                        keep: int) -> None:
        if self.is_main:
            save_checkpoint(run_dir, step, model, tokenizer, saved, keep=keep, weights=weights)
        self.barrier()  # no process runs ahead of a checkpoint the others might resume from

    def load_checkpoint(self, path: Path, model) -> dict:
        return state.load_checkpoint(path, model)

    def close(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()

    def _device(self) -> torch.device:
        return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend(self.group) == "nccl" \
            else torch.device("cpu")
