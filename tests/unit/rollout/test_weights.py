"""`policy_weights`: what a rollout engine of the base architecture (vLLM) is sent. For a LoRA
policy it must equal peft's own `merge_and_unload` (on a copy), under the base model's names,
and leave the trainer's model exactly as it was."""
import copy

import pytest
import torch

from rlvr.models import tiny_model
from rlvr.rollout.weights import base_model, policy_weights

peft = pytest.importorskip("peft")

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def lora_policy(seed=0, rank=4, alpha=32.0):
    """A tiny Llama with LoRA on every projection, as `build_policy` makes it, with B drawn at
    random: peft starts B at zero, where the merge would be W itself and prove nothing."""
    model, _ = tiny_model(seed)
    peft_model = peft.get_peft_model(model, peft.LoraConfig(r=rank, lora_alpha=alpha, target_modules=TARGETS,
                                                            task_type="CAUSAL_LM"))
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
    return peft_model


def test_plain_model_is_its_own_state_dict_as_views():
    model, _ = tiny_model(0)
    sent = dict(policy_weights(model))
    own = model.state_dict()
    assert sent.keys() == own.keys()
    assert all(sent[k].data_ptr() == own[k].data_ptr() for k in own)  # nothing copied
    assert base_model(model) is model


def test_lora_weights_are_peft_merge_and_unload_under_the_base_names():
    model = lora_policy()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    sent = dict(policy_weights(model))
    reference = copy.deepcopy(model).merge_and_unload().state_dict()
    plain, _ = tiny_model(0)
    # exactly the base architecture's names: what vLLM's loader for a Llama expects
    assert sent.keys() == reference.keys() == plain.state_dict().keys()
    for k in reference:
        assert sent[k].dtype == reference[k].dtype and sent[k].shape == reference[k].shape
        assert (sent[k] - reference[k]).abs().max() <= 1e-6, k
    # the merge is not a no-op: scaling 32/4 = 8 times B@A (B ~ 0.1·N(0,1)) moves q_proj by O(1)
    name = "model.layers.0.self_attn.q_proj.weight"
    assert (sent[name] - plain.state_dict()[name]).abs().max() > 0.1
    # untouched layers are the frozen base tensors themselves, not copies
    embed = "model.embed_tokens.weight"
    assert sent[embed].data_ptr() == model.get_base_model().state_dict()[embed].data_ptr()
    # the trainer's model is not changed, bit for bit, and nothing is left merged
    after = model.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    layer = model.get_base_model().model.layers[0].self_attn.q_proj
    assert not layer.merged
    assert base_model(model) is model.get_base_model()


def test_the_merge_follows_the_adapters_state():
    """Adapters disabled: the model computes with W alone, so W is sent; an adapter already
    merged into W (merge_adapter) is not added a second time."""
    model = lora_policy(1)
    reference = copy.deepcopy(model).merge_and_unload().state_dict()
    plain = copy.deepcopy(model).unload().state_dict()  # W without the adapters
    with model.disable_adapter():
        disabled = dict(policy_weights(model))
    assert all(torch.equal(disabled[k], plain[k]) for k in plain)
    model.merge_adapter()
    merged = dict(policy_weights(model))
    assert all((merged[k] - reference[k]).abs().max() <= 1e-6 for k in reference)


def test_merged_weights_give_the_peft_models_logits():
    model = lora_policy(2)
    plain, _ = tiny_model(0)
    plain.load_state_dict(dict(policy_weights(model)))
    ids = torch.tensor([[5, 17, 30, 42, 8, 61]])
    with torch.no_grad():
        assert torch.allclose(plain(ids).logits, model(ids).logits, atol=1e-5)


def test_other_peft_layers_are_refused():
    model, _ = tiny_model(0)
    emb = peft.get_peft_model(model, peft.LoraConfig(r=2, target_modules=["embed_tokens", "q_proj"]))
    with pytest.raises(NotImplementedError, match="only plain LoRA on linear layers"):
        dict(policy_weights(emb))
