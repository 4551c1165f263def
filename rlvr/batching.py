"""Rollouts as padded tensors, split into micro-batches, scored by a model.

Layout of a `RolloutBatch` of N sequences: prompts left-padded to a common width W, then
completions right-padded to the longest completion C, so every completion starts at
column W. Loss tensors (`logp`, `mask`, ...) are the completion part: `[N, C]`.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Sequence

import torch
from torch import Tensor

from rlvr.devices import autocast, model_device
from rlvr.models import sequence_logprobs
from rlvr.types import Completion


@dataclass
class RolloutBatch:
    input_ids: Tensor
    """[N, W + C] prompt (left-padded) then completion (right-padded)."""
    attention_mask: Tensor
    """[N, W + C] 1 on real tokens."""
    prompt_width: int
    """W: the column where every completion starts."""
    rollout_logp: Tensor
    """[N, C] the sampler's log-probs of the completion tokens (0 on padding)."""
    row_weight: Tensor | None = None
    """[N] 0 removes a row from the policy loss and its denominators (e.g. DAPO's overlong
    filtering); None keeps every row."""
    answer_mask: Tensor | None = None
    """[N, C] 1 on appended reference-answer tokens (JEPO): they are scored, not trained by
    the policy-gradient term; None when nothing was appended."""
    generated: Tensor | None = None
    """[N, C] 0 on completion tokens the policy did not generate (a sampler's hint tokens):
    scored, not trained; None when the policy generated every token."""

    @property
    def tokens(self) -> Tensor:
        """[N, C] float 1 on every scored token (sampled completion and appended answer)."""
        return self.attention_mask[:, self.prompt_width:].float()

    @property
    def mask(self) -> Tensor:
        """[N, C] float 1 on the sampled completion tokens the policy loss trains."""
        m = self.tokens
        if self.answer_mask is not None:
            m = m * (1 - self.answer_mask)
        if self.generated is not None:
            m = m * self.generated
        if self.row_weight is not None:
            m = m * self.row_weight.unsqueeze(-1)
        return m

    @property
    def lengths(self) -> Tensor:
        """[N] number of trained tokens per row."""
        return self.mask.sum(-1)

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    @property
    def device(self) -> torch.device:
        return self.input_ids.device

    def to(self, device: torch.device | str) -> "RolloutBatch":
        """This batch with every tensor on `device` (itself when they are there already)."""
        if self.input_ids.device == torch.device(device):
            return self
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        for name, value in moved.items():
            if isinstance(value, Tensor):
                moved[name] = value.to(device)
        return RolloutBatch(**moved)


def collate(prompts: Sequence[Sequence[int]], completions: Sequence[Completion], pad_id: int,
            answers: Sequence[Sequence[int]] | None = None,
            policy_mask: Sequence[Sequence[float]] | None = None,
            device: torch.device | str = "cpu") -> RolloutBatch:
    """One row per completion; `completions[i]` continues `prompts[completions[i].prompt_index]`.
    With `answers`, row i continues with the tokens `answers[i]` after its completion (teacher
    forcing; marked in `answer_mask`). With `policy_mask`, token t of completion i is trained
    only where `policy_mask[i][t]` is 1 (`generated`). The rows are filled on the CPU and the
    batch goes to `device` in one copy per tensor (not one small copy per row)."""
    if answers is not None:
        completions = [Completion(list(c.token_ids) + list(a), list(c.logprobs) + [0.0] * len(a), c.text,
                                  c.finish_reason, c.prompt_index) for c, a in zip(completions, answers)]
    W = max(len(prompts[c.prompt_index]) for c in completions)
    C = max(1, max(len(c.token_ids) for c in completions))
    N = len(completions)
    ids = torch.full((N, W + C), pad_id, dtype=torch.long)
    attn = torch.zeros((N, W + C), dtype=torch.long)
    logp = torch.zeros((N, C))
    for i, c in enumerate(completions):
        p = prompts[c.prompt_index]
        ids[i, W - len(p):W] = torch.tensor(p, dtype=torch.long)
        attn[i, W - len(p):W] = 1
        if c.token_ids:
            ids[i, W:W + len(c.token_ids)] = torch.tensor(c.token_ids, dtype=torch.long)
            attn[i, W:W + len(c.token_ids)] = 1
            logp[i, :len(c.token_ids)] = torch.tensor(c.logprobs)
    answer_mask = None
    if answers is not None:
        answer_mask = torch.zeros((N, C))
        for i, (c, a) in enumerate(zip(completions, answers)):
            answer_mask[i, len(c.token_ids) - len(a):len(c.token_ids)] = 1.0
    generated = None
    if policy_mask is not None:
        generated = torch.zeros((N, C))
        for i, row in enumerate(policy_mask):
            assert len(row) == len(completions[i].token_ids), "one policy-mask entry per completion token"
            generated[i, :len(row)] = torch.tensor(row, dtype=torch.float32)
    return RolloutBatch(ids, attn, W, logp, answer_mask=answer_mask, generated=generated).to(device)


def completion_logprobs(model, batch: RolloutBatch, rows: Tensor, *, temperature: float,
                        chunk_size: int, precision: str, with_entropy: bool | str = False) -> Tensor | tuple[Tensor, Tensor]:
    """`[len(rows), C]` log-probs of the completion tokens of `rows` under `model` (and, with
    `with_entropy`, the entropy of each next-token distribution: a pair; `"grad"` lets
    gradients flow through the entropy).

    The forward pass sees only the columns these rows use (no all-padding columns on either
    side); the result is padded back to the batch's C so that reductions see one shape. The
    batch is expected on the model's device (`collate(device=...)`); one elsewhere is moved.
    """
    device = model_device(model)
    batch = batch.to(device)
    attn = batch.attention_mask[rows]
    used = attn.any(0).nonzero().squeeze(-1)
    lo, hi = int(used[0]), int(used[-1]) + 1
    assert lo < batch.prompt_width, "every row has a prompt token left of its completion"
    ids, attn = batch.input_ids[rows, lo:hi], attn[:, lo:hi]
    completion = torch.zeros_like(attn)
    completion[:, batch.prompt_width - lo:] = attn[:, batch.prompt_width - lo:]
    with autocast(precision, device):
        out = sequence_logprobs(model, ids, attn, completion, temperature=temperature, chunk_size=chunk_size,
                                with_entropy=with_entropy)
    C = batch.input_ids.shape[1] - batch.prompt_width

    def crop(x: Tensor) -> Tensor:
        x = x[:, batch.prompt_width - lo:]
        return torch.nn.functional.pad(x, (0, C - x.shape[1]))
    return tuple(crop(x) for x in out) if with_entropy else crop(out)


@torch.no_grad()
def score(model, batch: RolloutBatch, *, micro_batch_size: int, temperature: float,
          chunk_size: int, precision: str) -> Tensor:
    """`[N, C]` log-probs of every completion under `model` (no gradients), micro-batched."""
    parts = [completion_logprobs(model, batch, rows, temperature=temperature, chunk_size=chunk_size,
                                 precision=precision)
             for rows in torch.arange(len(batch)).split(micro_batch_size)]
    return torch.cat(parts)
