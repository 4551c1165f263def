"""The tracker registry's shared parts (issue 11, Logging): the completions table, the config
checks of `run.trackers`, and a resume that sends each step once to a tool that cannot rewind."""
import json
import sys

import pytest

from rlvr.config import ConfigError, load_config
from rlvr.trackers import STATE_FILE, Trackers, completion_table
from rlvr.trackers.base import flat_config
from rlvr.trackers.mlflow import metric_name
from tests.plugins import JsonlTracker

ROWS = [  # two samples.jsonl rows as rlvr.train._sample_rows writes them
    {"prompt": "1+1=", "answer": "2", "completion": "2", "reward": 1.0, "advantage": 0.5, "finish_reason": "stop",
     "verifiers": {"math": {"reward": 1.0, "extracted": "2"}, "format": {"reward": 0.0}}},
    {"prompt": [{"role": "user", "content": "0+1="}], "answer": {"value": 1}, "completion": "x", "reward": 0.0,
     "advantage": -0.5, "finish_reason": "length", "verifiers": {"math": {"reward": 0.0}}},
]


def test_completion_table_is_like_trls_with_a_column_per_verifier():
    columns, data = completion_table(ROWS, step=7)
    assert columns == ["step", "prompt", "completion", "answer", "reward", "advantage", "math", "format"]
    assert data[0] == [7, "1+1=", "2", "2", 1.0, 0.5, 1.0, 0.0]
    # chat prompts and structured answers become text; a verifier that gave no verdict is empty, not 0
    assert data[1] == [7, '[{"role": "user", "content": "0+1="}]', "x", '{"value": 1}', 0.0, -0.5, 0.0, None]


class RewindingTracker(JsonlTracker):
    rewinds = True


def _calls(run_dir):
    return [json.loads(x) for x in (run_dir / "jsonl_tracker.jsonl").read_text().splitlines()]


def _steps_sent(run_dir, call):
    return [c["step"] for c in _calls(run_dir) if c["call"] == call]


@pytest.mark.parametrize("tracker, resent", [("tests.plugins:JsonlTracker", []),
                                             ("tests.unit.test_trackers:RewindingTracker", [3, 4])])
def test_a_resume_sends_the_re_run_steps_only_to_a_tracker_that_rewinds(tmp_path, tiny_config_path, tracker,
                                                                       resent):
    cfg = load_config(tiny_config_path, {"run": {"trackers": [tracker]}})
    first = Trackers(cfg.run.trackers)
    first.start(cfg, tmp_path, None)
    for step in range(5):  # killed after step 4; the newest checkpoint is step 2
        first.log({"reward/mean": step / 10}, step)
        first.log_completions(ROWS, step)
    resumed = Trackers(cfg.run.trackers)
    resumed.start(cfg, tmp_path, 2)
    for step in range(3, 7):
        resumed.log({"reward/mean": step / 10}, step)
        resumed.log_completions(ROWS, step)
    resumed.finish()
    assert [c["resume"] for c in _calls(tmp_path) if c["call"] == "start"] == [None, 2]
    assert _steps_sent(tmp_path, "log") == [0, 1, 2, 3, 4] + resent + [5, 6]
    assert _steps_sent(tmp_path, "log_completions") == [0, 1, 2, 3, 4] + resent + [5, 6]
    assert _calls(tmp_path)[-1] == {"call": "finish"}


def test_a_new_run_in_the_folder_forgets_what_an_earlier_one_sent(tmp_path, tiny_config_path):
    cfg = load_config(tiny_config_path, {"run": {"trackers": ["tests.plugins:JsonlTracker"]}})
    (tmp_path / STATE_FILE).write_text(json.dumps({"tests.plugins:JsonlTracker": {"metrics_through": 9}}))
    fresh = Trackers(cfg.run.trackers)
    fresh.start(cfg, tmp_path, None)
    fresh.log({"reward/mean": 0.0}, 1)
    assert _steps_sent(tmp_path, "log") == [1]


def test_default_is_tensorboard_and_none_is_allowed(tiny_config_path):
    assert load_config(tiny_config_path).run.trackers == ["tensorboard"]
    assert load_config(tiny_config_path, ["--run.trackers=[]"]).run.trackers == []


@pytest.mark.parametrize("override, must_mention", [
    ("--run.trackers=[tensorbored]", ["'run.trackers[0]'", "mlflow, tensorboard, trackio, wandb",
                                      "'package.module:Class'"]),
    ("--run.trackers=[tensorboard,tensorboard]", ["'run.trackers' names a tracker twice"]),
    ("--run.trackers=[mypkg_absent.trackers:Mine]", ["cannot import 'run.trackers[0]'", "mypkg_absent"]),
])
def test_bad_trackers_are_named(override, must_mention, tiny_config_path):
    with pytest.raises(ConfigError) as e:
        load_config(tiny_config_path, [override])
    assert all(m in str(e.value) for m in must_mention), str(e.value)


@pytest.mark.parametrize("tracker, module, pip", [("wandb", "wandb", "pip install wandb"),
                                                   ("mlflow", "mlflow", "pip install mlflow-skinny pandas"),
                                                   ("mlflow", "pandas", "pip install mlflow-skinny pandas"),
                                                   ("trackio", "trackio", "pip install trackio")])
def test_a_tracker_that_is_not_installed_is_a_config_error_naming_the_package(tracker, module, pip, monkeypatch,
                                                                             tiny_config_path):
    monkeypatch.setitem(sys.modules, module, None)  # what importlib finds when the package is absent
    with pytest.raises(ConfigError) as e:
        load_config(tiny_config_path, [f"--run.trackers=[tensorboard,{tracker}]"])
    assert f"names {tracker}, but {module} is not installed" in str(e.value) and pip in str(e.value), str(e.value)


def test_config_as_flat_hyper_parameters(tiny_config_path):
    params = flat_config(load_config(tiny_config_path))
    assert params["optim.lr"] == 3e-3 and params["run.trackers"] == '["tensorboard"]'
    assert json.loads(params["reward.verifiers"])[0]["name"] == "math"


def test_mlflow_metric_names_keep_what_mlflow_accepts():
    assert metric_name("eval/accuracy") == "eval/accuracy"
    assert metric_name("eval/pass@4") == "eval/pass_4"
