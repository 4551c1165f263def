"""The value model of PPO with a critic: the policy's transformer with a scalar head.

`ValueModel(policy)` copies the policy's decoder (its current weights, so the critic starts
from the same representation, as in InstructGPT-style PPO) and adds a zero-initialised linear
head, so every first value estimate is 0. V(s_t), the value of the state before completion
token t, is read from the hidden state at the position that predicts token t — the same
alignment as the log-probs.
"""
from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from rlvr.batching import RolloutBatch
from rlvr.devices import autocast, model_device
from rlvr.models import position_ids_for


class ValueModel(nn.Module):
    def __init__(self, policy) -> None:
        super().__init__()
        base = policy.get_base_model() if hasattr(policy, "get_base_model") else policy  # PEFT
        self.backbone = copy.deepcopy(base.get_decoder())
        self.backbone.requires_grad_(True)  # a LoRA policy's frozen base is trained in full here
        # on the policy's device, like the copied decoder
        self.head = nn.Linear(base.config.hidden_size, 1, device=model_device(self.backbone))
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, input_ids: Tensor, attention_mask: Tensor) -> Tensor:
        hidden = self.backbone(input_ids=input_ids, attention_mask=attention_mask, use_cache=False,
                               position_ids=position_ids_for(attention_mask)).last_hidden_state
        return self.head(hidden).squeeze(-1).float()  # [B, L]


def completion_values(critic: ValueModel, batch: RolloutBatch, rows: Tensor, *, precision: str) -> Tensor:
    """`[len(rows), C]` V(s_t) for each completion token t of `rows` (0 on padding)."""
    device = model_device(critic)
    batch = batch.to(device)
    attn = batch.attention_mask[rows]
    used = attn.any(0).nonzero().squeeze(-1)
    lo, hi = int(used[0]), int(used[-1]) + 1
    with autocast(precision, device):
        values = critic(batch.input_ids[rows, lo:hi], attn[:, lo:hi])
    W, C = batch.prompt_width, batch.input_ids.shape[1] - batch.prompt_width
    # the state before token W + t is read at position W + t − 1
    v = values[:, W - 1 - lo:hi - 1 - lo]
    v = torch.nn.functional.pad(v, (0, C - v.shape[1]))
    return v * batch.tokens[rows]


@torch.no_grad()
def score_values(critic: ValueModel, batch: RolloutBatch, *, micro_batch_size: int, precision: str) -> Tensor:
    """`[N, C]` values of every completion token, micro-batched, no gradients."""
    return torch.cat([completion_values(critic, batch, rows, precision=precision)
                      for rows in torch.arange(len(batch)).split(micro_batch_size)])
