"""The value model reads V(s_t) where the policy reads the log-prob of token t."""
import torch

from rlvr.batching import collate
from rlvr.methods.critic import ValueModel, completion_values
from rlvr.models import tiny_model
from rlvr.types import Completion


def test_value_model_starts_at_zero_and_aligns_with_completion_tokens():
    model, tok = tiny_model(0)
    critic = ValueModel(model)
    prompts = [[5, 6, 7], [8]]
    comps = [Completion([9, 10], [0.0, 0.0], "", "stop", 0), Completion([11, 12, 13], [0.0] * 3, "", "stop", 1)]
    batch = collate(prompts, comps, tok.pad_token_id)
    v = completion_values(critic, batch, torch.arange(2), precision="none")
    assert v.shape == (2, 3) and v.abs().sum() == 0  # zero-initialised head
    torch.nn.init.ones_(critic.head.weight)
    v = completion_values(critic, batch, torch.arange(2), precision="none")
    full = critic(batch.input_ids, batch.attention_mask)
    W = batch.prompt_width
    # the value of completion token t is read at position W + t − 1 (the state before it)
    assert torch.allclose(v[1], full[1, W - 1:W + 2])
    assert torch.allclose(v[0, :2], full[0, W - 1:W + 1]) and v[0, 2] == 0  # padding stays 0
    # the critic is a copy: training it leaves the policy untouched
    assert critic.backbone is not model.model
    assert all(p.requires_grad for p in critic.parameters())
