"""Plain data passed between the stages of a step; shapes are in the docstrings."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Sample:
    """One prompt of a dataset."""

    prompt: str | list[dict]
    """The question (text), or a whole chat (list of {"role", "content"} messages)."""
    answer: Any
    """The reference the verifier checks against."""
    meta: dict = field(default_factory=dict)
    """Anything else of the row (id, source, difficulty...), passed to the verifier."""
    where: str = field(default="", compare=False)
    """Where the row came from (`file.jsonl:12`), for error messages; empty for generated rows.
    Provenance, not content: two samples with the same prompt, answer and meta are equal."""


@dataclass
class Completion:
    """One sampled continuation of a prompt."""

    token_ids: list[int]
    """Generated tokens, including the stop token when it finished with `stop`."""
    logprobs: list[float]
    """The sampler's log-prob of each generated token (temperature-scaled, before top-k/p)."""
    text: str
    """Decoded completion, special tokens removed."""
    finish_reason: Literal["stop", "length"]
    """`stop`: a stop token was generated; `length`: `max_new_tokens` was reached."""
    prompt_index: int = 0
    """Index of the prompt (in the `generate` call) this completion continues."""
