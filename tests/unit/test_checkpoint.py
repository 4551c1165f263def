import torch

from rlvr.checkpoint import (checkpoint_dirs, latest_checkpoint, load_checkpoint, remove_partial_checkpoints,
                             save_checkpoint)
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
