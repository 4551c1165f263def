"""Rollout engines: what samples completions for the trainer (`base.RolloutEngine`).

`ENGINES` maps `rollout.engine` to a lazy dotted name, so an engine's back end (transformers
for `hf`, vLLM for `vllm`) is imported only when it is chosen. Training, evaluation and `rlvr label`
all build their engine with `build_engine`; a new engine is a module implementing the
protocol plus one line here (docs/architecture.md, "Add an engine").
"""
from __future__ import annotations

from rlvr.plugins import lazy_entry
from rlvr.rollout.base import RolloutEngine, SamplingParams

ENGINES: dict[str, str] = {
    "hf": "rlvr.rollout.hf:HFEngine",
    "vllm": "rlvr.rollout.vllm:VLLMEngine",  # needs the vllm package (`make vllm-env`)
}


def engine_class(name: str) -> type:
    """The class of a registered engine, or of a `package.module:Class` plug-in."""
    return lazy_entry(ENGINES, name, "rollout engine")


def build_engine(name: str, model, tokenizer, *, dtype: str = "float32", batch_size: int = 64,
                 seed: int = 0) -> RolloutEngine:
    """An engine sampling from `model` (its weights now; `update_weights` later), decoding in
    `dtype` at most `batch_size` sequences at once, its generator seeded with `seed`."""
    return engine_class(name)(model, tokenizer, dtype=dtype, batch_size=batch_size, seed=seed)


__all__ = ["ENGINES", "RolloutEngine", "SamplingParams", "build_engine", "engine_class"]
