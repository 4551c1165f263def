"""Prompts that fit the model's context with room for the completion (issue 9 item 10).

A prompt of P tokens with up to `max_new_tokens` T generated needs P + T positions; past the
model's context (`max_position_embeddings`) the positions have no embedding the model was
trained with, and a huge row costs minutes and gigabytes before anything fails. So every
file row is measured when the run starts, before the first step: with `data.truncate:
error` (the default) a row that does not fit is an error naming its file and line; with
`left` it keeps its last context − T tokens (verl's `truncation: left`, TRL's
`max_prompt_length`), and the rows truncated each step are counted in the metrics
(`data/truncated_prompts`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from rlvr.data.chat import render, render_options
from rlvr.data.files import DataError
from rlvr.types import Sample

if TYPE_CHECKING:
    from rlvr.config import DataConfig


def model_context(model) -> int | None:
    """Positions the model was built for, or None when its config does not say."""
    value = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    return int(value) if isinstance(value, int) and value > 0 else None


def _label(sample: Sample) -> str:
    if sample.where:
        return sample.where
    text = sample.prompt if isinstance(sample.prompt, str) else str(sample.prompt)
    return f"the prompt {text[:60]!r}…"


class PromptFitter:
    """`fitter(sample) -> token ids`: the rendered prompt, checked (or left-truncated) so that
    prompt + `max_new_tokens` fits in `context`. `truncated` counts the truncated renders."""

    def __init__(self, tokenizer, cfg: "DataConfig", *, context: int | None, max_new_tokens: int) -> None:
        self.tokenizer, self.cfg = tokenizer, cfg
        self.context, self.max_new_tokens = context, max_new_tokens
        self.budget = None if context is None else context - max_new_tokens
        if self.budget is not None and self.budget < 1:
            raise DataError(f"the longest completion ({max_new_tokens} new tokens) leaves no room for a prompt "
                            f"in the model's context of {context} positions; lower rollout.max_new_tokens "
                            "(and eval.max_new_tokens)")
        self.truncated = 0

    def _ids(self, sample: Sample) -> list[int]:
        return render(self.tokenizer, sample, **render_options(self.cfg))

    def _too_long(self, sample: Sample, n: int) -> DataError:
        return DataError(f"{_label(sample)}: the prompt has {n} tokens; with up to {self.max_new_tokens} new "
                         f"tokens that exceeds the model's context of {self.context} positions (at most "
                         f"{self.budget} prompt tokens fit). Shorten or drop the row, lower "
                         "rollout.max_new_tokens, or set data.truncate: left")

    def __call__(self, sample: Sample) -> list[int]:
        ids = self._ids(sample)
        if self.budget is None or len(ids) <= self.budget:
            return ids
        if self.cfg.truncate == "left":
            self.truncated += 1
            return ids[-self.budget:]
        raise self._too_long(sample, len(ids))

    def check(self, samples: Sequence[Sample], what: str) -> int:
        """Measure every sample before training; raises on the first that does not fit (mode
        `error`), else returns how many will be truncated (and says so)."""
        if self.budget is None:
            return 0
        over = 0
        for sample in samples:
            n = len(self._ids(sample))
            if n <= self.budget:
                continue
            if self.cfg.truncate != "left":
                raise self._too_long(sample, n)
            over += 1
        if over:
            print(f"{over} of {len(samples)} {what} prompts exceed {self.budget} tokens and will be truncated "
                  "from the left (data.truncate: left)", flush=True)
        return over
