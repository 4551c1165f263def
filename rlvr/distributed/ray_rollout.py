"""Several training processes with `run.backend: ray`: the rollout pool driven by the first.

Under `rlvr train --nproc N --run.backend=ray` (the trainer as a Ray group,
`ray_group.py`, or torchrun) the run's engine is a `RankZeroRollout`, a `RolloutEngine`
(rlvr/rollout/base.py) that every process calls alike, as the loop calls any engine:

- `generate`: rank 0 asks the pool of `rollout.workers` Ray actors (`RayRolloutPool`, any
  engine of `ENGINES` on them) and broadcasts the completions; the other ranks receive them
  from that broadcast. So every process holds the same rollout, as with the engine in every
  process (docs/scale.md says why the rollout is not split), but generated once, on the workers.
- `update_weights`: the weights are gathered whole (FSDP2's full state dict, a collective of
  every process) and rank 0 pushes the trainable ones to the workers.
- `state_dict` / `load_state_dict`: rank 0's pool state (its per-prompt seed generator), the one
  a checkpoint keeps; on load, rank 0's copy is broadcast and rank 0's pool takes it.

An error of rank 0's pool is raised in every process (`procs.on_main`), so no process waits for
a broadcast that never comes. Only rank 0 connects to Ray.
"""
from __future__ import annotations

import copy
from typing import Sequence

import torch

from rlvr.rollout.base import Prompt, SamplingParams
from rlvr.types import Completion


class RankZeroRollout:
    """`RolloutEngine` of every process of a run: rank 0's `pool`, None in the others."""

    def __init__(self, procs, pool, trainable: list[str]) -> None:
        assert (pool is not None) == procs.is_main, "rank 0, and rank 0 alone, drives the pool"
        self.procs, self.pool, self.trainable = procs, pool, trainable

    def generate(self, prompts: Sequence[Prompt], n: int, sampling: SamplingParams) -> list[Completion]:
        return self.procs.on_main(lambda: self.pool.generate(prompts, n, sampling))

    def update_weights(self, model) -> None:
        weights = self.procs.full_weights(model)  # a collective: every process takes part
        # only what the trainer changes travels, as the pool itself does for one process
        self.procs.on_main(lambda: self.pool.push_weights({name: weights[name] for name in self.trainable}))

    def state_dict(self) -> dict:
        return self.procs.on_main(lambda: self.pool.state_dict())

    def load_state_dict(self, state: dict) -> None:
        state = self.procs.broadcast(state)  # rank 0's, whatever the others read
        self.procs.on_main(lambda: self.pool.load_state_dict(state))

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None


def whole_model(model, weights: dict[str, torch.Tensor]):
    """An unsharded copy of `model` (sharded or not) on the CPU, holding `weights` (every
    weight by name, a tied head left out, as `procs.full_weights` returns them): what rank 0
    sends the rollout workers. Made from the model's class and config, with the global random
    state left as it was (a fresh model initialises its weights at random before they are
    overwritten), so that the run samples what one process would."""
    from torch.distributed.fsdp import FSDPModule

    from rlvr.checkpoint import _tied_keys

    cls = next(c for c in type(model).__mro__ if not issubclass(c, FSDPModule))  # FSDP2 subclasses the model's class
    with torch.random.fork_rng(devices=[]):
        whole = cls(copy.deepcopy(model.config))
    whole.to(next(iter(weights.values())).dtype)
    missing, unexpected = whole.load_state_dict(weights, strict=False)
    # a tied head is left out of `weights`: it shares its embedding's tensor
    assert not unexpected and set(missing) <= _tied_keys(whole), (missing, unexpected)
    whole.generation_config = copy.deepcopy(model.generation_config)  # the engine stops at its end of turn
    return whole.train(model.training)


def rank_zero_rollout(cfg, model, tokenizer, build_pool) -> RankZeroRollout:
    """The `ray` backend's engine with several training processes (WORLD_SIZE > 1): the pool
    `build_pool(cfg, model, tokenizer)` makes, started by rank 0 from the whole weights of the
    (sharded) model."""
    from rlvr.distributed import processes_from_env

    procs = processes_from_env(cfg.model.device)  # the group this process joined already
    weights = procs.full_weights(model)  # a collective; empty off rank 0
    pools = []  # built by rank 0; its error (no room on the cluster) is raised in every process
    procs.on_main(lambda: pools.append(build_pool(cfg, whole_model(model, weights), tokenizer)))
    return RankZeroRollout(procs, pools[0] if pools else None,
                           [name for name, p in model.named_parameters() if p.requires_grad])
