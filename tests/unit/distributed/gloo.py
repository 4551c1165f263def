"""Run a function in N gloo processes on the CPU (torch.multiprocessing spawn) and collect
what each returns."""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _entry(rank: int, fn, world: int, folder: str, args: tuple) -> None:
    torch.set_num_threads(1)  # N processes on the shared cores, as torchrun sets it
    dist.init_process_group("gloo", init_method=f"file://{folder}/store", rank=rank, world_size=world)
    try:
        torch.save(fn(rank, world, *args), os.path.join(folder, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


def in_processes(fn, world: int, folder: Path, *args) -> list:
    """`fn(rank, world, *args)` in `world` processes joined in one gloo group; their results,
    in rank order. `fn` must be a module-level function (spawn pickles it by name)."""
    folder.mkdir(parents=True, exist_ok=True)
    mp.spawn(_entry, args=(fn, world, str(folder), args), nprocs=world, join=True)
    return [torch.load(folder / f"rank{r}.pt", weights_only=False) for r in range(world)]
