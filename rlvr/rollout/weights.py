"""The policy's weights as an engine of the base architecture loads them: for a PEFT LoRA model
(`model.lora.rank > 0`, `rlvr.models.build_policy`), the merged W + scaling·B@A of every
adapted linear layer under the base model's own parameter names; for any other model, its
state dict.

An engine that builds the plain architecture (vLLM: `rlvr/rollout/vllm.py`) cannot take PEFT's
names (`base_model.model.….q_proj.base_layer.weight`, `….lora_A.default.weight`) nor apply the
adapters itself, so the merge happens here, on the fly, without touching the trainer's model:
`merge_adapter()` / `unmerge_adapter()` would add and subtract the update in place after every
step, and float rounding would make the trainer's base weights drift away from the frozen ones.
Each merged tensor is computed with peft's own `get_delta_weight` — the term `merge_and_unload`
adds — so the result equals peft's merge (tests/unit/rollout/test_weights.py).
"""
from __future__ import annotations

from typing import Iterator

import torch
from torch import Tensor

from rlvr.checkpoint import is_peft

BASE_LAYER = "base_layer."  # where peft keeps the wrapped layer's own parameters


def base_model(model):
    """The transformers model under a PEFT wrapper (its config and generation config are the
    base architecture's), or the model itself."""
    return model.get_base_model() if is_peft(model) else model


def policy_weights(model) -> Iterator[tuple[str, Tensor]]:
    """(name, tensor) for every entry of the base architecture's state dict, detached, on the
    model's device and in its dtype. A plain model yields views of its own tensors; a PEFT LoRA
    model yields the unwrapped base tensors as views and, for each adapted linear layer, a new
    merged weight, one at a time (a sync holds one merged layer at once, not a second model)."""
    if not is_peft(model):
        yield from ((name, t.detach()) for name, t in model.state_dict().items())
        return
    inner = model.get_base_model()
    lora = _lora_layers(inner)
    for key, tensor in inner.state_dict().items():
        owner = _owner(key, lora)
        if owner is None:
            if "lora_" in key or "modules_to_save" in key or "original_module" in key:
                raise NotImplementedError(f"{key}: peft layers other than LoRA linear layers (embeddings, "
                                          "modules_to_save) cannot be merged for the rollout engine yet")
            yield key, tensor.detach()
            continue
        rest = key[len(owner) + 1:]
        if not rest.startswith(BASE_LAYER):
            continue  # the adapter's own parameters (lora_A, lora_B): merged into the weight below
        name = owner + "." + rest[len(BASE_LAYER):]
        if rest == BASE_LAYER + "weight":
            yield name, _merged_weight(lora[owner], tensor)
        else:
            yield name, tensor.detach()  # the base layer's bias, unchanged by LoRA


def _lora_layers(inner) -> dict:
    from peft.tuners.lora import Linear, LoraLayer

    found = {}
    for name, module in inner.named_modules():
        if not isinstance(module, LoraLayer):
            continue
        if not isinstance(module, Linear) or module.lora_variant or any(module.lora_bias.values()):
            raise NotImplementedError(f"{name}: only plain LoRA on linear layers (no DoRA, no LoRA bias, "
                                      "no embedding or convolution adapters) is merged for the rollout engine")
        found[name] = module
    return found


def _owner(key: str, lora: dict) -> str | None:
    """The LoRA layer whose parameter `key` is (`….q_proj` for `….q_proj.base_layer.weight`), if any."""
    parts = key.split(".")
    for end in range(len(parts) - 1, 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in lora:
            return prefix
    return None


@torch.no_grad()
def _merged_weight(layer, weight: Tensor) -> Tensor:
    """W plus the update of every active adapter not already merged into W (peft's `merge`
    skips those too); with the adapters disabled the model computes with W alone."""
    merged = weight.detach()
    if layer.disable_adapters:
        return merged
    for name in layer.active_adapters:
        if name in layer.lora_A and name not in layer.merged_adapters:
            merged = merged + layer.get_delta_weight(name).to(weight.dtype)
    return merged
