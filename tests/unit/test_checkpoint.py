import errno
import hashlib
import json

import pytest
import torch

from rlvr.checkpoint import (MANIFEST, STATE_FILE, checkpoint_dirs, latest_checkpoint, load_checkpoint,
                             newest_good_checkpoint, remove_partial_checkpoints, save_checkpoint, verify_checkpoint)
from rlvr.runfiles import DiskFull
from rlvr.config import load_config
from rlvr.models import tiny_model
from rlvr.train import run_dir_of


def test_save_load_round_trip_and_atomic_leftovers(tmp_path):
    model, tok = tiny_model(0)
    save_checkpoint(tmp_path, 5, model, tok, {"note": "x"})
    # leftovers of a kill: a half-written temp folder and a folder without the state file
    (tmp_path / "checkpoints" / ".step-10.tmp-abc").mkdir()
    (tmp_path / "checkpoints" / "step-15").mkdir()
    assert latest_checkpoint(tmp_path).name == "step-5"
    other, _ = tiny_model(1)
    state = load_checkpoint(latest_checkpoint(tmp_path), other)
    assert state["note"] == "x" and state["step"] == 5
    for p, q in zip(model.parameters(), other.parameters()):
        assert torch.equal(p, q)
    assert [p.name for p in remove_partial_checkpoints(tmp_path)] == [".step-10.tmp-abc"]


def test_keep_prunes_the_oldest(tmp_path):
    model, tok = tiny_model(0)
    for step in (1, 2, 3, 10):
        save_checkpoint(tmp_path, step, model, tok, {}, keep=2)
    assert [p.name for p in checkpoint_dirs(tmp_path)] == ["step-3", "step-10"]  # numeric order


def test_default_run_folder_never_collides(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config(None, ["--run.name=demo"])
    assert str(run_dir_of(cfg)) == "runs/demo"
    model, tok = tiny_model(0)
    save_checkpoint(tmp_path / "runs" / "demo", 1, model, tok, {})
    assert str(run_dir_of(cfg)) == "runs/demo-2"
    assert str(run_dir_of(load_config(None, ["--run.out=x"]))) == "x"


# ---------------------------------------------------------------------------- integrity (issue 9 item 2)
def _two_checkpoints(tmp_path):
    model, tok = tiny_model(0)
    save_checkpoint(tmp_path, 5, model, tok, {"note": 5})
    with torch.no_grad():
        next(model.parameters()).add_(1.0)
    save_checkpoint(tmp_path, 10, model, tok, {"note": 10})
    return tmp_path / "checkpoints"


def test_manifest_lists_every_file_with_size_and_hash(tmp_path):
    root = _two_checkpoints(tmp_path)
    manifest = json.loads((root / "step-10" / MANIFEST).read_text())
    on_disk = {p.relative_to(root / "step-10").as_posix() for p in (root / "step-10").rglob("*")
               if p.is_file() and p.name != MANIFEST}
    assert set(manifest["files"]) == on_disk and "model.safetensors" in on_disk and STATE_FILE in on_disk
    weights = (root / "step-10" / "model.safetensors").read_bytes()
    assert manifest["files"]["model.safetensors"] == {"size": len(weights),
                                                      "sha256": hashlib.sha256(weights).hexdigest()}
    assert verify_checkpoint(root / "step-10") is None


def test_truncated_newest_checkpoint_falls_back_to_the_older_one(tmp_path):
    """The probe: truncating step-10/model.safetensors with step-5 intact made resume crash
    with a safetensors traceback instead of resuming from step-5."""
    root = _two_checkpoints(tmp_path)
    with open(root / "step-10" / "model.safetensors", "r+b") as fh:
        fh.truncate(100)
    good, notes = newest_good_checkpoint(tmp_path)
    assert good == root / "step-5"
    assert "step-10 is damaged: model.safetensors has 100 bytes" in notes[0]
    assert not (root / "step-10").exists()  # set aside, kept for inspection, never resumed from
    assert [p.name.split(".")[0] for p in root.iterdir() if ".damaged-" in p.name] == ["step-10"]
    other, _ = tiny_model(1)
    assert load_checkpoint(good, other)["note"] == 5


def test_a_flipped_byte_of_the_same_size_is_detected(tmp_path):
    root = _two_checkpoints(tmp_path)
    path = root / "step-10" / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # inside the tensor data: the file still loads, with one wrong weight
    path.write_bytes(bytes(data))
    assert "does not match its SHA-256" in verify_checkpoint(root / "step-10")
    good, _ = newest_good_checkpoint(tmp_path, set_aside=False)
    assert good == root / "step-5" and (root / "step-10").is_dir()  # set_aside=False moves nothing


def test_checkpoint_of_an_older_rlvr_without_manifest_is_used_with_a_note(tmp_path):
    root = _two_checkpoints(tmp_path)
    (root / "step-10" / MANIFEST).unlink()
    good, notes = newest_good_checkpoint(tmp_path)
    assert good == root / "step-10" and "not verified" in notes[0]


def test_disk_full_while_saving_names_the_newest_good_checkpoint(tmp_path, monkeypatch):
    """Issue 9 item 5: the error said only 'No space left on device'."""
    root = _two_checkpoints(tmp_path)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("rlvr.checkpoint.write_manifest", full)
    model, tok = tiny_model(0)
    with pytest.raises(DiskFull, match="newest good checkpoint is step-10"):
        save_checkpoint(tmp_path, 15, model, tok, {})
    assert sorted(p.name for p in root.iterdir()) == ["step-10", "step-5"]  # no temporary folder left
    assert verify_checkpoint(root / "step-10") is None
