"""The rollout-engine protocol: whatever samples completions for the trainer.

Every duty the trainer relies on, stated once (the contract suite in
tests/contracts/test_engines.py runs it against every entry of `rlvr.rollout.ENGINES`):

- `generate(prompts, n, sampling)` returns `len(prompts) * n` completions, prompt-major (the
  n completions of prompt 0 first, each with `prompt_index`), stopping at the tokenizer's end
  of turn (`finish_reason` "stop") or after `max_new_tokens` ("length");
- each completion's `logprobs` are the log-probs of the taken tokens under the
  temperature-scaled full-vocabulary distribution, before top-k/top-p truncation — the
  distribution the trainer scores (with temperature 0: the untempered one);
- randomness comes from the engine's own generator, seeded at construction; `sampling.seed`
  seeds one call on its own and leaves that generator untouched;
- `update_weights(model)` makes later calls sample from the trainer's current weights;
- `state_dict()` / `load_state_dict()` hold the generator's state, so a resumed run samples
  exactly what an uninterrupted one would.

Construction: `Engine(model, tokenizer, *, dtype, batch_size, seed)` (see `build_engine`).
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

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...
