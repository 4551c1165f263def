"""Checkpoints of a sharded run in the one-process format, so that any number of processes
resumes any other's run.

The weights are gathered whole to the first process and written by `save_pretrained` as
today; the optimizer's state is gathered too and written keyed by parameter index, as
`torch.optim.Optimizer.state_dict()` writes it in one process (torch.distributed's own full
optimizer state is keyed by parameter name). Loading reads the same files in every process
and keeps each process's shard.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch.distributed.checkpoint.state_dict import (StateDictOptions, get_model_state_dict,
                                                     get_optimizer_state_dict, set_model_state_dict,
                                                     set_optimizer_state_dict)

from rlvr.checkpoint import STATE_FILE, _tied_keys

_GATHER = StateDictOptions(full_state_dict=True, cpu_offload=True)


def trainable_names(model) -> list[str]:
    """The names of the parameters the optimizer holds, in its order (the loop builds it from
    `model.parameters()` with `requires_grad`)."""
    return [n for n, p in model.named_parameters() if p.requires_grad]


def by_index(named: dict, names: list[str]) -> dict:
    """A name-keyed optimizer state (torch.distributed's) as the index-keyed one of
    `Optimizer.state_dict()`."""
    index = {n: i for i, n in enumerate(names)}
    return {"state": {index[n]: s for n, s in named["state"].items()},
            "param_groups": [{**g, "params": [index[n] for n in g["params"]]} for g in named["param_groups"]]}


def by_name(indexed: dict, names: list[str]) -> dict:
    """The inverse of `by_index`."""
    return {"state": {names[i]: s for i, s in indexed["state"].items()},
            "param_groups": [{**g, "params": [names[i] for i in g["params"]]} for g in indexed["param_groups"]]}


def full_weights(model) -> dict:
    """Every weight whole on the first process, as `save_pretrained` writes them (a tied head
    left out, as one process leaves it); an empty dict elsewhere. A collective."""
    weights = get_model_state_dict(model, options=_GATHER)
    tied = _tied_keys(model)
    return {k: v for k, v in weights.items() if k not in tied}


def full_optimizer_state(model, optimizer) -> dict:
    """The optimizer's state gathered whole, keyed by index (empty off the first process)."""
    named = get_optimizer_state_dict(model, optimizer, options=_GATHER)
    if not named.get("param_groups"):
        return {}
    return by_index(named, trainable_names(model))


def load_full_optimizer_state(model, optimizer, indexed: dict) -> None:
    """Restore a one-process (index-keyed) optimizer state into this process's shards."""
    set_optimizer_state_dict(model, optimizer, by_name(indexed, trainable_names(model)),
                             options=StateDictOptions(full_state_dict=True))


def load_checkpoint(path: str | Path, model) -> dict:
    """`rlvr.checkpoint.load_checkpoint` for a sharded model: every process reads the folder
    (one machine, or a shared file system) and keeps its shard of each weight."""
    from safetensors.torch import load_file

    path = Path(path)
    saved = torch.load(path / STATE_FILE, map_location="cpu", weights_only=False)
    weights: dict = {}
    for f in sorted(path.glob("*.safetensors")):
        weights.update(load_file(f))
    expected = set(get_model_state_dict(model).keys()) - _tied_keys(model)
    if expected - set(weights) or set(weights) - expected:
        raise RuntimeError(f"checkpoint {path} does not match the model: missing "
                           f"{sorted(expected - set(weights))[:5]}, unexpected {sorted(set(weights) - expected)[:5]}")
    tied = getattr(model, "_tied_weights_keys", None)
    for target, source in (tied.items() if isinstance(tied, dict) else ()):
        if target not in weights and source in weights:  # a tied head gets its embedding's new value,
            weights[target] = weights[source]  # never the one it held before
    set_model_state_dict(model, weights, options=StateDictOptions(full_state_dict=True, strict=False))
    return saved
