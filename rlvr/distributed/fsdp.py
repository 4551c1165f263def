"""Parameters sharded with FSDP2: each transformer block is its own unit (gathered for its
forward and backward only), the rest (embeddings, final norm, head) the root's."""
from __future__ import annotations

from functools import partial


def shard_model(model) -> None:
    """`fully_shard` the blocks Hugging Face names in `_no_split_modules`, then the model, in
    place (the same object, its parameters now DTensor shards). Gradients are reduced with
    the divide factor 1 — a sum: every process's loss already carries the whole mini-batch's
    denominators (rlvr/distributed/reduce.py), so averaging would divide by N twice."""
    from torch.distributed.fsdp import FSDPModule, fully_shard, register_fsdp_forward_method

    from rlvr.models import SHARDED_LOGPROBS

    if hasattr(model, "peft_config"):
        raise ValueError("several processes shard every weight with FSDP2; LoRA (model.lora.rank > 0) is not "
                         "supported with --nproc > 1 yet")
    blocks = set(getattr(model, "_no_split_modules", None) or ())
    units = [m for m in model.modules() if type(m).__name__ in blocks]
    if not units:
        raise ValueError(f"{type(model).__name__} names no transformer block (_no_split_modules): cannot shard it")
    for unit in units:
        fully_shard(unit)
    # resharded after every forward, the root too (its default keeps it gathered until a backward):
    # generation and scoring run forwards without a backward, and gathered weights kept past an
    # optimizer step would be stale
    fully_shard(model, reshard_after_forward=True)
    # the trainer scores with the backbone and the head called apart, never the model's forward:
    # that call must gather the root's weights (embeddings, final norm, head) as a forward would
    setattr(model, SHARDED_LOGPROBS, partial(_logprobs, model))
    register_fsdp_forward_method(model, SHARDED_LOGPROBS)
    for m in model.modules():
        if isinstance(m, FSDPModule):
            m.set_gradient_divide_factor(1.0)
            m.set_force_sum_reduction_for_comms(True)  # a plain SUM: gloo has no PREMUL_SUM
    # FSDP allocates each unit's gathering buffers at its first forward, and keeps them; the
    # engine decodes under torch.inference_mode, where they would become inference tensors the
    # training passes may not write. One forward here allocates them as ordinary tensors.
    import torch

    device = next(model.parameters()).device
    with torch.no_grad():
        model(input_ids=torch.zeros((1, 1), dtype=torch.long, device=device), use_cache=False)


def _logprobs(model, *args, **kwargs):
    """`sequence_logprobs_of` with its outputs copied: FSDP hooks the backward of a forward's
    outputs, and a view (the log-prob and entropy halves of one tensor) could lose that hook."""
    from rlvr.models import sequence_logprobs_of

    out = sequence_logprobs_of(model, *args, **kwargs)
    return tuple(x.clone() for x in out) if isinstance(out, tuple) else out.clone()
