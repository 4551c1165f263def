"""`rlvr train ... --nproc N`: the same command in N processes, started by torchrun on this
machine (`torch.distributed.run --standalone`); with `run.backend: ray` the N processes are Ray
actors instead (`ray_group.py`). Nothing is imported from torch.distributed here; the
processes join their group in `DataParallel.from_env`."""
from __future__ import annotations

import os
import subprocess
import sys

from rlvr.configtools import ConfigError


def without_nproc(argv: list[str]) -> list[str]:
    """The command line with `--nproc N` / `--nproc=N` removed (each process is one of N)."""
    out, skip = [], False
    for tok in argv:
        if skip:
            skip = False
        elif tok == "--nproc":
            skip = True
        elif not tok.startswith("--nproc="):
            out.append(tok)
    return out


def check_several_processes(cfg, nproc: int) -> None:
    """What several processes cannot run yet, refused before any process starts (and again in
    each, for a torchrun launch)."""
    if nproc <= 1:
        return
    if cfg.model.lora.rank > 0:
        raise ConfigError(f"'model.lora.rank' is {cfg.model.lora.rank}, but several processes ({nproc}) shard every "
                          "weight with FSDP2 and LoRA is not supported there yet; allowed with --nproc > 1: 0")
    if cfg.run.backend == "local" and (cfg.rollout.engine != "hf" or cfg.rollout.dtype != "float32"):
        raise ConfigError(f"'rollout.engine' is {cfg.rollout.engine!r} with 'rollout.dtype' {cfg.rollout.dtype!r}, "
                          f"but with several processes ({nproc}) and 'run.backend: local' the engine samples from "
                          "the sharded trainer model itself; allowed with --nproc > 1: rollout.engine hf with "
                          "rollout.dtype float32, or 'run.backend: ray', whose rollout workers run any engine")
    if cfg.rollout.max_staleness > 0:  # a background generation's passes would interleave with the update's collectives
        raise ConfigError(f"'rollout.max_staleness' is {cfg.rollout.max_staleness}, but several processes ({nproc}) "
                          "take part in every generation (its passes or its broadcast are collectives), which cannot "
                          "overlap the update's; allowed with --nproc > 1: 0")


def check_nproc(nproc: int) -> None:
    """A process count that can start: at least one, and not from inside another launch."""
    if nproc < 1:
        raise ConfigError(f"--nproc is {nproc}; allowed values: 1 or more processes")
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError("--nproc was given inside a torchrun launch (WORLD_SIZE is set): give one or the other")


def launch(nproc: int, argv: list[str]) -> int:
    """Run `rlvr <argv>` (without its --nproc) in `nproc` processes; their exit status."""
    check_nproc(nproc)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           "-m", "rlvr.cli", *without_nproc(argv)]
    print(f"starting {nproc} training processes: {' '.join(cmd[1:])}", flush=True)
    return subprocess.call(cmd)
