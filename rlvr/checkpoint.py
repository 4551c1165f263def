"""Checkpoints: a Hugging Face model folder plus everything needed to resume exactly.

`checkpoints/step-<N>/` holds `config.json`, `model.safetensors` and the tokenizer files —
`AutoModelForCausalLM.from_pretrained` loads it directly (a LoRA run saves the merged
weights there and its adapter in `adapter/`) — and `trainer_state.pt`: optimizer,
scheduler, every RNG state, the data position and the step. A checkpoint is written into
a temporary folder that is renamed into place only when complete, so a run killed while
saving never leaves a half-written `step-<N>`.
"""
from __future__ import annotations

import copy
import os
import random
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

STATE_FILE = "trainer_state.pt"
_STEP = re.compile(r"^step-(\d+)$")


def checkpoint_dirs(run_dir: str | Path) -> list[Path]:
    """Complete checkpoints of a run, oldest first."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in root.iterdir()
             if (m := _STEP.match(p.name)) and (p / STATE_FILE).is_file()]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    dirs = checkpoint_dirs(run_dir)
    return dirs[-1] if dirs else None


def remove_partial_checkpoints(run_dir: str | Path) -> list[Path]:
    """Delete temporary folders left by a run killed while saving (never a complete one)."""
    root = Path(run_dir) / "checkpoints"
    partial = [p for p in root.glob(".step-*.tmp-*") if p.is_dir()] if root.is_dir() else []
    for p in partial:
        shutil.rmtree(p, ignore_errors=True)
    return partial


def is_peft(model) -> bool:
    return hasattr(model, "peft_config")


def rng_state() -> dict:
    return {"python": random.getstate(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(run_dir: str | Path, step: int, model, tokenizer, state: dict[str, Any],
                    *, keep: int = 0) -> Path:
    """Write `checkpoints/step-<step>` atomically; keep only the newest `keep` (0: all)."""
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step}"
    tmp = Path(tempfile.mkdtemp(prefix=f".step-{step}.tmp-", dir=root))
    try:
        if is_peft(model):
            model.save_pretrained(tmp / "adapter")
            merged = copy.deepcopy(model).merge_and_unload()
            merged.save_pretrained(tmp)
            state = {**state, "trainable": {n: p.detach().clone() for n, p in model.named_parameters()
                                            if p.requires_grad}}
        else:
            model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        with open(tmp / STATE_FILE, "wb") as fh:
            torch.save({**state, "step": step}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        if final.exists():  # the same step saved again after a resume: replace it
            shutil.rmtree(final)
        os.rename(tmp, final)
        _fsync_dir(root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if keep > 0:
        for old in checkpoint_dirs(run_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def _tied_keys(model) -> set[str]:
    tied = getattr(model, "_tied_weights_keys", None) or {}
    return set(tied.keys() if isinstance(tied, dict) else tied)


def load_checkpoint(path: str | Path, model) -> dict[str, Any]:
    """Restore the weights of `model` from `path` and return the trainer state dict."""
    from safetensors.torch import load_file

    path = Path(path)
    state = torch.load(path / STATE_FILE, map_location="cpu", weights_only=False)
    with torch.no_grad():
        if is_peft(model):
            params = dict(model.named_parameters())
            for name, value in state["trainable"].items():
                params[name].copy_(value)
        else:
            weights: dict[str, torch.Tensor] = {}
            for f in sorted(path.glob("*.safetensors")):
                weights.update(load_file(f))
            missing, unexpected = model.load_state_dict(weights, strict=False)
            if unexpected or set(missing) - _tied_keys(model):
                raise RuntimeError(f"checkpoint {path} does not match the model: missing "
                                   f"{sorted(set(missing) - _tied_keys(model))[:5]}, unexpected {unexpected[:5]}")
    return state
