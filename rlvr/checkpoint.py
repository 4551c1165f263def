"""Checkpoints: a Hugging Face model folder plus everything needed to resume exactly.

`checkpoints/step-<N>/` holds `config.json`, `model.safetensors` and the tokenizer files —
`AutoModelForCausalLM.from_pretrained` loads it directly (a LoRA run saves the merged
weights there and its adapter in `adapter/`) — and `trainer_state.pt`: optimizer,
scheduler, every RNG state, the data position and the step. A checkpoint is written into
a temporary folder that is renamed into place only when complete, so a run killed while
saving never leaves a half-written `step-<N>`.

Integrity (issue 9 item 2): every file is fsynced before the rename, and `manifest.json`,
written last, lists each file's size and SHA-256. `newest_good_checkpoint` verifies the
manifest, so a checkpoint damaged later (a truncated or flipped weight file, a disk error)
is set aside and resume falls back to the newest one that verifies, saying so. A disk that
fills up while saving raises `DiskFull`, naming the newest good checkpoint; the older
checkpoints are untouched.
"""
from __future__ import annotations

import copy
import hashlib
import json
import os
import random
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from rlvr.runfiles import DiskFull, fsync_dir, is_disk_full

STATE_FILE = "trainer_state.pt"
MANIFEST = "manifest.json"
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
    """The newest complete checkpoint folder, unverified (see `newest_good_checkpoint`)."""
    dirs = checkpoint_dirs(run_dir)
    return dirs[-1] if dirs else None


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)


def write_manifest(folder: Path, step: int) -> None:
    """`manifest.json`: size and SHA-256 of every file of the checkpoint, fsynced."""
    files = {p.relative_to(folder).as_posix(): {"size": p.stat().st_size, "sha256": _sha256(p)}
             for p in _files(folder)}
    with open(folder / MANIFEST, "w", encoding="utf-8") as fh:
        json.dump({"format": 1, "step": step, "files": files}, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())


def verify_checkpoint(path: str | Path) -> str | None:
    """None when every file the manifest lists is there with its size and SHA-256, else what
    is wrong. A checkpoint without a manifest (written before rlvr had them) cannot be
    verified and passes; `newest_good_checkpoint` notes it."""
    path = Path(path)
    if not (path / STATE_FILE).is_file():
        return f"{STATE_FILE} is missing"
    if not (path / MANIFEST).is_file():
        return None
    try:
        listed = json.loads((path / MANIFEST).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        return f"{MANIFEST} is unreadable ({type(e).__name__})"
    for name, want in listed.items():
        f = path / name
        if not f.is_file():
            return f"{name} is missing"
        size = f.stat().st_size
        if size != want["size"]:
            return f"{name} has {size} bytes, the manifest says {want['size']}"
        if _sha256(f) != want["sha256"]:
            return f"{name} does not match its SHA-256 (the file was changed or damaged)"
    return None


def newest_good_checkpoint(run_dir: str | Path, *, set_aside: bool = True) -> tuple[Path | None, list[str]]:
    """(the newest checkpoint that verifies, notes on the newer ones skipped). With
    `set_aside`, when a good one is found, the damaged newer ones are renamed to
    `step-<N>.damaged-<time>`: kept for inspection, never resumed from or overwritten."""
    notes: list[str] = []
    damaged: list[Path] = []
    for path in reversed(checkpoint_dirs(run_dir)):
        problem = verify_checkpoint(path)
        if problem is not None:
            damaged.append(path)
            notes.append(f"{path.name} is damaged: {problem}")
            continue
        if not (path / MANIFEST).is_file():
            notes.append(f"{path.name} has no {MANIFEST} (an older rlvr wrote it): not verified")
        if set_aside:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            for bad in damaged:
                os.rename(bad, bad.with_name(f"{bad.name}.damaged-{stamp}"))
                notes.append(f"{bad.name} moved to {bad.name}.damaged-{stamp}")
        return path, notes
    return None, notes


def _fsync_tree(folder: Path) -> None:
    for p in _files(folder):
        with open(p, "rb") as fh:
            os.fsync(fh.fileno())
    for d in sorted({p.parent for p in _files(folder)} | {folder}, key=lambda d: -len(d.parts)):
        fsync_dir(d)


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


def save_checkpoint(run_dir: str | Path, step: int, model, tokenizer, state: dict[str, Any],
                    *, keep: int = 0, weights: dict | None = None) -> Path:
    """Write `checkpoints/step-<step>` atomically; keep only the newest `keep` (0: all).
    `weights`: the state dict to write instead of the model's own (a sharded model's, gathered
    by rlvr.distributed)."""
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
        elif weights is not None:
            model.save_pretrained(tmp, state_dict=weights)
        else:
            model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        with open(tmp / STATE_FILE, "wb") as fh:
            torch.save({**state, "step": step}, fh)
        _fsync_tree(tmp)
        write_manifest(tmp, step)  # last: a folder with a manifest has every file on disk
        fsync_dir(tmp)
        if final.exists():  # the same step saved again after a resume: replace it
            shutil.rmtree(final)
        os.rename(tmp, final)
        fsync_dir(root)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if is_disk_full(e):
            good, _ = newest_good_checkpoint(run_dir, set_aside=False)
            raise DiskFull(f"the disk is full: writing checkpoint step-{step} into {root} failed ({e.strerror}); "
                           f"the newest good checkpoint is {good.name if good else 'none'}. Free some space, "
                           f"then `rlvr train --resume {Path(run_dir)}` continues exactly from it") from e
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
