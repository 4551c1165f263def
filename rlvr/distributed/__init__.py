"""Several training processes: data parallel over the rollout batch, parameters sharded with
FSDP2 (`torch.distributed.fsdp.fully_shard`), gloo on the CPU and NCCL on GPUs.

`rlvr train CONFIG --nproc N` (or `torchrun --nproc_per_node N -m rlvr.cli train CONFIG`)
starts N processes. Every process draws the same prompts and generates the same rollout
(the same seeds, the same gathered weights); each runs the forward and backward passes of
its share of every mini-batch's rows, with the whole mini-batch's denominators, and the
gradients are summed, so N processes take the update one process takes
(`rlvr/distributed/reduce.py` says why the denominators are the classic bug). Checkpoints are
gathered into the one-process folder format, so a run resumes with any number of processes.
docs/scale.md, "Several processes". With `run.backend: ray` the N processes are Ray actors
instead (`ray_group.py`) and rank 0 drives the rollout workers for all (`ray_rollout.py`).

Nothing here is imported by a one-process run beyond `processes_from_env`, which returns
`ONE` (today's loop, unchanged) unless torchrun's WORLD_SIZE is above 1.
"""
from __future__ import annotations

import os

from rlvr.distributed.local import ONE, OneProcess


def processes_from_env(device_spec: str = "cpu"):
    """The processes of this run: `ONE` outside torchrun (or with WORLD_SIZE 1), else this
    process's `DataParallel`, its process group started (gloo on the CPU, NCCL on CUDA)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return ONE
    from rlvr.distributed.parallel import DataParallel

    return DataParallel.from_env(device_spec)


__all__ = ["ONE", "OneProcess", "processes_from_env"]
