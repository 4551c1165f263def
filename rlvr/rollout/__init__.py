"""Rollout engines: what samples completions for the trainer (`base.RolloutEngine`).

`ENGINES` maps `rollout.engine` to a lazy dotted name, so an engine's back end (transformers
for `hf`, vLLM for `vllm`) is imported only when it is chosen. Training, evaluation and `rlvr label`
all build their engine with `build_engine`; a new engine is a module implementing the
protocol plus one line here (docs/architecture.md, "Add an engine").

`BACKENDS` maps `run.backend` to where the run's engine lives, also lazily: `local` builds
`rollout.engine` in this process; `ray` builds a `RolloutEngine` over `rollout.workers` Ray
actors that each hold one (`ray_pool.py`, docs/scale.md; with several training processes the
first drives it for all, rlvr/distributed/ray_rollout.py). Each entry is a function
`(cfg, model, tokenizer) -> RolloutEngine`.
"""
from __future__ import annotations

import copy

from rlvr.plugins import lazy_entry
from rlvr.rollout.base import RolloutEngine, SamplingParams

ENGINES: dict[str, str] = {
    "hf": "rlvr.rollout.hf:HFEngine",
    "vllm": "rlvr.rollout.vllm:VLLMEngine",  # needs the vllm package (`make vllm-env`)
}

BACKENDS: dict[str, str] = {
    "local": "rlvr.rollout:build_local_engine",
    "ray": "rlvr.rollout.ray_pool:build_ray_engine",
}


def engine_class(name: str) -> type:
    """The class of a registered engine, or of a `package.module:Class` plug-in."""
    return lazy_entry(ENGINES, name, "rollout engine")


def build_engine(name: str, model, tokenizer, *, dtype: str = "float32", batch_size: int = 64,
                 seed: int = 0) -> RolloutEngine:
    """An engine sampling from `model` (its weights now; `update_weights` later), decoding in
    `dtype` at most `batch_size` sequences at once, its generator seeded with `seed`."""
    return engine_class(name)(model, tokenizer, dtype=dtype, batch_size=batch_size, seed=seed)


def build_local_engine(cfg, model, tokenizer) -> RolloutEngine:
    """The `local` backend: `rollout.engine` in this process. With asynchronous steps
    (`rollout.max_staleness` > 0) over a copy of the policy: generation then runs while the
    optimizer changes the trainer's weights in place (rlvr/samplers/pipeline.py)."""
    r = cfg.rollout
    if r.max_staleness > 0:
        model = copy.deepcopy(model)
    return build_engine(r.engine, model, tokenizer, dtype=r.dtype, batch_size=r.batch_size, seed=cfg.run.seed)


def build_run_engine(cfg, model, tokenizer) -> RolloutEngine:
    """The run's engine, where `run.backend` puts it."""
    return lazy_entry(BACKENDS, cfg.run.backend, "run backend")(cfg, model, tokenizer)


__all__ = ["BACKENDS", "ENGINES", "RolloutEngine", "SamplingParams", "build_engine", "build_local_engine",
           "build_run_engine", "engine_class"]
