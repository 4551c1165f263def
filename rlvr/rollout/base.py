"""The rollout-engine protocol: whatever samples completions for the trainer.

`generate(prompts, n, sampling)` returns `len(prompts) * n` completions, prompt-major (the
n completions of prompt 0 first). `update_weights(model)` makes the engine sample from the
trainer's current weights. Engines: `hf.py` (transformers, in-process); heavier ones (vLLM)
import lazily and implement the same two methods.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

from rlvr.types import Completion

Prompt = Sequence[int] | str  # token ids (already chat-templated) or text to tokenise


@dataclass(frozen=True)
class SamplingParams:
    max_new_tokens: int = 128
    """Longest completion."""
    temperature: float = 1.0
    """0 means greedy."""
    top_p: float = 1.0
    """Nucleus threshold (1: off)."""
    top_k: int = 0
    """Keep the k most likely tokens (0: off)."""
    seed: int | None = None
    """Seed this call on its own (e.g. evaluation); None continues the engine's generator."""


@runtime_checkable
class RolloutEngine(Protocol):
    def generate(self, prompts: Sequence[Prompt], n: int, sampling: SamplingParams) -> list[Completion]: ...

    def update_weights(self, model) -> None: ...
