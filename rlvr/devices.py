"""Where the models run (`model.device`) and the autocast that goes with it.

`auto` is the first CUDA device when torch sees one, else the CPU. The policy is moved there
once (`rlvr.models.build_policy`); everything else follows the model rather than the config:
the reference model and the critic are copies of it, the rollout engine decodes on the
device of the model it is given, and the trainer's batches are moved to the device of the
model that scores them (`rlvr.batching`). Autocast is opened for the model's device type:
before issue 11 it was opened for CUDA whenever CUDA existed, while the model stayed on the
CPU, so bf16 silently did nothing.
"""
from __future__ import annotations

import re
from contextlib import nullcontext

import torch

DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
ALLOWED = "auto, cpu, cuda, cuda:N"


def check_device(spec: str, key: str = "model.device") -> None:
    """Raise ConfigError for a device this machine cannot run on (so a run fails before the model
    loads, not in its first forward pass)."""
    from rlvr.configtools import ConfigError

    if not DEVICE_PATTERN.match(spec):
        raise ConfigError(f"bad value {spec!r} for '{key}'; allowed values: {ALLOWED}")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"'{key}' is {spec!r}, but torch sees no CUDA device on this machine "
                              f"(torch {torch.__version__}, built with CUDA {torch.version.cuda or 'none'}); "
                              "use 'cpu' or 'auto'")
        index = int(spec.split(":")[1]) if ":" in spec else 0
        if index >= torch.cuda.device_count():
            raise ConfigError(f"'{key}' is {spec!r}, but this machine has {torch.cuda.device_count()} CUDA "
                              f"device(s) (cuda:0 … cuda:{torch.cuda.device_count() - 1})")


def resolve_device(spec: str) -> torch.device:
    """`model.device` as a torch device (`auto`: CUDA when available, else CPU). A CUDA device
    always carries its index, as a parameter's `.device` does, so that devices compare equal."""
    check_device(spec)
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec == "cuda":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device(spec)


def model_device(model) -> torch.device:
    """The device of a model's (first) parameter: where its inputs must go."""
    return next(model.parameters()).device


def autocast(precision: str, device: torch.device | str):
    """bf16 autocast for the passes of a model on `device` (`model.autocast`), or nothing."""
    if precision == "bfloat16":
        return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
    return nullcontext()


__all__ = ["ALLOWED", "autocast", "check_device", "model_device", "resolve_device"]
