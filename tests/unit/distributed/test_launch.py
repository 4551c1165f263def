"""`--nproc N`: the command each process runs, what several processes refuse before any of
them starts, and that one process never touches torch.distributed."""
import importlib.util

import pytest

from rlvr.cli import main
from rlvr.config import load_config
from rlvr.configtools import ConfigError
from rlvr.distributed import ONE, processes_from_env
from rlvr.distributed.launch import check_several_processes, launch, without_nproc


def test_each_process_runs_the_command_without_nproc():
    assert without_nproc(["train", "c.yaml", "--nproc", "2", "--out", "x"]) == ["train", "c.yaml", "--out", "x"]
    assert without_nproc(["train", "--resume", "r", "--nproc=4", "--run.steps=3"]) == ["train", "--resume", "r",
                                                                                      "--run.steps=3"]


NEEDS_RAY = pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="ray is not installed")


@pytest.mark.parametrize("override,key", [({"model": {"lora": {"rank": 4}}}, "model.lora.rank"),
                                          pytest.param({"model": {"lora": {"rank": 4}}, "run": {"backend": "ray"}},
                                                       "model.lora.rank", marks=NEEDS_RAY),
                                          ({"rollout": {"dtype": "bfloat16"}}, "rollout.dtype")])
def test_what_several_processes_cannot_run_is_refused_naming_the_key(override, key):
    cfg = load_config(None, {"model": {"path": "tiny"}, **override})
    check_several_processes(cfg, 1)  # one process runs it
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")) as e:
        check_several_processes(cfg, 2)
    if key != "model.lora.rank":  # the way out is named too
        assert "'run.backend: ray'" in str(e.value)


@NEEDS_RAY
@pytest.mark.parametrize("rollout", [{"dtype": "bfloat16"}, {"engine": "rlvr.rollout.hf:HFEngine"}, {"workers": 2}])
def test_with_the_ray_backend_the_rollout_workers_run_any_engine_for_several_processes(rollout):
    """The engine runs on the Ray workers, not on the sharded trainer model (issue 12 §3)."""
    check_several_processes(load_config(None, {"model": {"path": "tiny"}, "run": {"backend": "ray"},
                                               "rollout": rollout}), 2)


def test_the_command_line_refuses_before_any_process_starts(tiny_config_path, capsys):
    assert main(["train", tiny_config_path, "--nproc", "2", "--model.lora.rank=4", "--out", "/nonexistent/x"]) == 2
    err = capsys.readouterr()
    assert "model.lora.rank" in err.err and "starting 2 training processes" not in err.out


def test_nproc_inside_torchrun_or_below_one_is_an_error(monkeypatch):
    with pytest.raises(ConfigError, match="--nproc is 0"):
        launch(0, ["train"])
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match="inside a torchrun launch"):
        launch(2, ["train"])


def test_one_process_is_the_plain_loop(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert processes_from_env() is ONE
    monkeypatch.setenv("WORLD_SIZE", "1")  # `torchrun --nproc_per_node 1` is one process too
    assert processes_from_env() is ONE


def test_asynchronous_steps_are_refused_with_several_processes():
    cfg = load_config(None, {"model": {"path": "tiny"}, "rollout": {"max_staleness": 1}})
    check_several_processes(cfg, 1)
    with pytest.raises(ConfigError, match=r"rollout\.max_staleness.*allowed with --nproc > 1: 0"):
        check_several_processes(cfg, 2)
