"""`run.backend`, `run.ray_address`, `rollout.workers`: bad values and settings that would do
nothing are config errors naming the key, raised before any model loads (and without ray
installed, the error says how to install it)."""
import importlib.util

import pytest

from rlvr import config_checks
from rlvr.config import ConfigError, load_config
from rlvr.models import tiny_model
from rlvr.rollout import BACKENDS, build_run_engine
from rlvr.rollout.hf import HFEngine


def test_the_default_backend_is_the_engine_in_this_process(tiny_config_path):
    cfg = load_config(tiny_config_path)
    assert cfg.run.backend == "local" and cfg.rollout.workers == 1 and sorted(BACKENDS) == ["local", "ray"]
    model, tok = tiny_model(0)
    engine = build_run_engine(cfg, model, tok)
    assert type(engine) is HFEngine and engine.model is model  # as before: no copy, no process


@pytest.mark.parametrize("override, names", [
    ("--run.backend=slurm", ["'run.backend'", "local, ray"]),
    ("--rollout.workers=2", ["'rollout.workers'", "'run.backend' is 'local'"]),
    ("--run.ray_address=auto", ["'run.ray_address'", "run.backend: ray"]),
    ("--rollout.worker_gpus=1", ["'rollout.worker_gpus'", "run.backend: ray"]),
    ("--run.ray_object_store_mb=10", ["'run.ray_object_store_mb'", "at least 80"]),
])
def test_bad_backend_settings_name_the_key(override, names, tiny_config_path):
    with pytest.raises(ConfigError) as e:
        load_config(tiny_config_path, [override])
    assert all(n in str(e.value) for n in names), str(e.value)


def test_zero_workers_is_an_error_with_ray_too(tiny_config_path):
    with pytest.raises(ConfigError, match="'rollout.workers'; must be at least 1"):
        load_config(tiny_config_path, ["--run.backend=ray", "--rollout.workers=0"])


def test_ray_missing_is_a_config_error_with_the_install_command(monkeypatch, tiny_config_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(config_checks.importlib.util, "find_spec",
                        lambda name, *a, **k: None if name == "ray" else real(name, *a, **k))
    with pytest.raises(ConfigError, match=r"ray is not installed; install with: pip install 'rlvr\[ray\]'"):
        load_config(tiny_config_path, ["--run.backend=ray", "--rollout.workers=2"])


def test_asynchronous_steps_give_the_local_engine_its_own_weights(tiny_config_path):
    # generation overlaps the optimizer's in-place update, so the engine cannot sample from the
    # trainer's tensors; it starts from an equal copy
    cfg = load_config(tiny_config_path, ["--rollout.max_staleness=2"])
    model, tok = tiny_model(0)
    engine = build_run_engine(cfg, model, tok)
    assert engine.model is not model
    ours, theirs = dict(engine.model.named_parameters()), dict(model.named_parameters())
    assert ours.keys() == theirs.keys()
    assert all(ours[k].equal(theirs[k]) and ours[k].data_ptr() != theirs[k].data_ptr() for k in ours)


def test_negative_staleness_names_the_key(tiny_config_path):
    with pytest.raises(ConfigError, match="'rollout.max_staleness'; must be at least 0"):
        load_config(tiny_config_path, ["--rollout.max_staleness=-1"])
