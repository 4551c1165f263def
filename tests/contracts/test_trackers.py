"""The Tracker contract (rlvr/trackers/base.py), run against every entry of TRACKERS and the toy
plug-in of tests/plugins.py: a new tracker is tested the moment it is registered. Each runs for real,
in its offline or local mode (no network, no account); the packages come with the `dev` extra."""
import inspect
import json
import math
import subprocess
import sys

import pytest

from rlvr.config import load_config
from rlvr.trackers import TRACKERS, Tracker, Trackers, tracker_class
from rlvr.trackers.base import read_state
from tests.tracker_stores import offline_trackers

NAMES = sorted(TRACKERS) + ["tests.plugins:JsonlTracker"]
ROWS = [{"prompt": "1+1=", "answer": "2", "completion": "2", "reward": 1.0, "advantage": 0.5,
         "finish_reason": "stop", "verifiers": {"math": {"reward": 1.0}}}]


@pytest.mark.parametrize("name", NAMES)
def test_declares_what_it_needs_and_follows_the_protocol(name):
    cls = tracker_class(name)
    assert isinstance(cls.requires, tuple) and all(isinstance(m, str) and m for m in cls.requires)
    assert cls.pip.startswith("pip install ") and isinstance(cls.rewinds, bool)
    for method, params in (("start", ["config", "run_dir", "resume"]), ("log", ["metrics", "step"]),
                           ("log_completions", ["rows", "step"]), ("finish", [])):
        assert list(inspect.signature(getattr(cls, method)).parameters)[1:] == params, method
    assert isinstance(cls(), Tracker)


def test_choosing_a_tracker_imports_no_package_until_the_run_starts():
    code = ("import sys; from rlvr.trackers import TRACKERS, tracker_class; "
            "mods = [m for n in TRACKERS for m in tracker_class(n).requires]; "
            "print([m for m in mods if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("name", NAMES)
def test_a_run_then_its_resume(name, tmp_path, monkeypatch, tiny_config_path):
    offline_trackers(monkeypatch, tmp_path)
    for module in tracker_class(name).requires:
        pytest.importorskip(module, reason=f"{name} needs {module}: pip install -e '.[dev]'")
    cfg = load_config(tiny_config_path, {"run": {"trackers": [name]}})
    run = tmp_path / "run"
    run.mkdir()
    first = Trackers(cfg.run.trackers)
    first.start(cfg, run, None)
    first.log({"eval/accuracy": 0.25, "eval/problems": 16}, 0)
    first.log({"reward/mean": 0.5, "loss": math.nan, "update/skipped": 0.0}, 1)  # a NaN is not plotted, not fatal
    first.log_completions(ROWS, 1)
    first.finish()
    state = read_state(run, name)
    if not tracker_class(name).rewinds:
        assert state["metrics_through"] == 1 and state["completions_through"] == 1
    resumed = Trackers(cfg.run.trackers)
    resumed.start(cfg, run, 1)
    resumed.log({"reward/mean": 0.75}, 2)
    resumed.log_completions(ROWS, 2)
    resumed.finish()
    after = read_state(run, name)
    for key in ("id", "run_id", "name"):  # the tool's run id, where it has one, is the same run's
        assert after.get(key) == state.get(key), key
    if tracker_class(name).rewinds:
        assert after == {} and not (run / "trackers.json").exists()
    else:
        assert after["metrics_through"] == 2 and json.loads((run / "trackers.json").read_text())
