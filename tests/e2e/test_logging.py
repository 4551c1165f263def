"""Issue 11, point 3 and "Logging": every held-out evaluation (before, every `eval.every` steps,
after) in metrics.jsonl and TensorBoard at its step, and `run.trackers` end to end: a tiny run
sends its metrics, config and completions to each tracker in its offline or local mode, read
back here from what the tool wrote; a resume continues the same tracker runs without sending a
step twice; a tracker that is not installed stops the run before the model loads."""
import json
import shutil
import sys

import pytest

from rlvr.cli import main
from tests.tracker_stores import offline_trackers, read_mlflow, read_trackio, read_wandb  # sets TRACKIO_DIR

for _module in ("wandb", "mlflow", "pandas", "trackio"):
    pytest.importorskip(_module, reason=f"the trackers' end-to-end tests need {_module}: pip install -e '.[dev]'")

TRACKERS = "--run.trackers=[tensorboard,wandb,mlflow,trackio,tests.plugins:JsonlTracker]"
ARGS = ["--run.progress=false", "--run.steps=10", "--run.save_every=5", "--eval.every=5", "--run.threads=1",
        TRACKERS]
EVAL_STEPS = [0, 5, 10]


def _rows(out):
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]


def _tensorboard(out, tag):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(out / "tensorboard"))
    acc.Reload()
    return [(e.step, e.value) for e in acc.Scalars(tag)]


@pytest.fixture(scope="module")
def tracked(tmp_path_factory, tiny_config_path):
    """A 10-step tiny run evaluated at steps 0, 5 and 10 into every tracker, offline."""
    base = tmp_path_factory.mktemp("logging")
    with pytest.MonkeyPatch.context() as mp:
        offline_trackers(mp, base)
        out = base / "run"
        assert main(["train", tiny_config_path, "--out", str(out), *ARGS]) == 0
        yield out, mp


def test_every_evaluation_is_in_metrics_jsonl_at_its_step(tracked):
    out, _ = tracked
    rows = _rows(out)
    assert [r["step"] for r in rows] == list(range(11))  # no extra row: the after-eval is step 10's
    assert [r["step"] for r in rows if "eval/accuracy" in r] == EVAL_STEPS
    after = json.loads((out / "eval.json").read_text())["after"]
    assert rows[-1]["eval/accuracy"] == after["accuracy"] and rows[-1]["eval/problems"] == after["problems"] == 16
    assert "reward/mean" in rows[-1] and "reward/mean" in rows[5]  # beside the step's training metrics
    assert set(rows[0]) == {"step", "eval/accuracy", "eval/problems", "eval/mean_length"}


def test_tensorboard_has_every_evaluation_at_its_step(tracked):
    out, _ = tracked
    by_step = {r["step"]: r for r in _rows(out)}
    evals = _tensorboard(out, "eval/accuracy")
    assert [s for s, _ in evals] == EVAL_STEPS
    assert all(v == pytest.approx(by_step[s]["eval/accuracy"]) for s, v in evals)
    assert [s for s, _ in _tensorboard(out, "reward/mean")] == list(range(1, 11))


def test_wandb_offline_run_has_metrics_config_and_completions(tracked):
    out, _ = tracked
    run = read_wandb(out)
    assert [s for s, _ in run["metrics"]["eval/accuracy"]] == EVAL_STEPS
    assert [s for s, _ in run["metrics"]["reward/mean"]] == list(range(1, 11))
    assert run["config"]["optim"]["lr"] == 3e-3 and run["config"]["run"]["steps"] == 10
    table = run["completions"]  # the last step's table
    assert table["columns"][:6] == ["step", "prompt", "completion", "answer", "reward", "advantage"]
    assert "math" in table["columns"] and len(table["data"]) == 2 and {r[0] for r in table["data"]} == {10}


def test_mlflow_file_store_in_the_run_folder(tracked):
    out, _ = tracked
    run = read_mlflow(out)
    assert [s for s, _ in run["metrics"]["eval/accuracy"]] == EVAL_STEPS
    assert [s for s, _ in run["metrics"]["reward/mean"]] == list(range(1, 11))
    assert run["params"]["optim.lr"] == "0.003" and run["params"]["run.steps"] == "10"
    assert run["status"] == "FINISHED" and run["name"] == "tiny"
    completions = run["completions"]
    assert len(completions) == 10 * 2 and sorted({r["step"] for r in completions}) == list(range(1, 11))
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert [r["completion"] for r in completions] == [s["completion"] for s in samples]
    assert [r["math"] for r in completions] == [s["verifiers"]["math"]["reward"] for s in samples]


def test_trackio_local_store(tracked):
    out, _ = tracked
    run = read_trackio(out)
    assert [s for s, _ in run["metrics"]["eval/accuracy"]] == EVAL_STEPS
    assert [s for s, _ in run["metrics"]["reward/mean"]] == list(range(1, 11))
    assert run["config"]["optim"]["lr"] == 3e-3
    assert run["completions_steps"] == list(range(1, 11))


def test_a_plugin_tracker_gets_every_row_and_every_step_s_completions(tracked):
    out, _ = tracked
    calls = [json.loads(x) for x in (out / "jsonl_tracker.jsonl").read_text().splitlines()]
    assert calls[0] == {"call": "start", "resume": None, "run_name": "tiny"} and calls[-1] == {"call": "finish"}
    logged = [c for c in calls if c["call"] == "log"]
    assert [c["step"] for c in logged] == list(range(11))
    assert all(c["metrics"].keys() == r.keys() - {"step"} for c, r in zip(logged, _rows(out)))
    assert [c["step"] for c in calls if c["call"] == "log_completions"] == list(range(1, 11))


def test_resume_continues_the_same_tracker_runs_and_sends_no_step_twice(tracked):
    """Run last: step-10's checkpoint is lost (as in a kill while it was written), so the resume
    redoes steps 6–10 from step-5, the evaluation after training included."""
    out, _ = tracked
    ids = json.loads((out / "trackers.json").read_text())
    before = _rows(out)
    shutil.rmtree(out / "checkpoints" / "step-10")
    assert main(["train", "--resume", str(out)]) == 0
    assert _rows(out)[:6] == before[:6] and [r["step"] for r in _rows(out)] == list(range(11))
    assert [r["step"] for r in _rows(out) if "eval/accuracy" in r] == EVAL_STEPS
    assert _rows(out)[-1]["eval/accuracy"] == before[-1]["eval/accuracy"]  # bit-identical
    assert [s for s, _ in _tensorboard(out, "eval/accuracy")] == EVAL_STEPS  # purged, then redone
    assert [s for s, _ in _tensorboard(out, "reward/mean")] == list(range(1, 11))
    now = json.loads((out / "trackers.json").read_text())
    for name, key in (("wandb", "id"), ("mlflow", "run_id"), ("trackio", "name")):
        assert now[name][key] == ids[name][key], name
    run = read_mlflow(out)
    assert [s for s, _ in run["metrics"]["reward/mean"]] == list(range(1, 11))  # each step once
    assert len(run["completions"]) == 20 and run["status"] == "FINISHED"
    calls = [json.loads(x) for x in (out / "jsonl_tracker.jsonl").read_text().splitlines()]
    assert [c["resume"] for c in calls if c["call"] == "start"] == [None, 5]
    assert [c["step"] for c in calls if c["call"] == "log"] == list(range(11))


def test_a_tracker_that_is_not_installed_stops_the_run_before_the_model_loads(tmp_path, monkeypatch, capsys,
                                                                             tiny_config_path):
    """The user adds wandb to a run on a machine without it."""
    monkeypatch.setitem(sys.modules, "wandb", None)  # what importlib finds when wandb is absent

    def no_model(*a, **k):
        raise AssertionError("the model was loaded")
    monkeypatch.setattr("rlvr.train.build_policy", no_model)
    out = tmp_path / "run"
    assert main(["train", tiny_config_path, "--out", str(out), "--run.trackers=[tensorboard,wandb]"]) == 2
    err = capsys.readouterr().err
    assert "'run.trackers' names wandb, but wandb is not installed; install with: pip install wandb" in err
    assert not (out / "checkpoints").exists()


def test_resuming_a_finished_run_keeps_its_evaluation_after_training(tracked):
    """The last checkpoint keeps the evaluation after training, so resuming a finished run
    adds no row and loses nothing (before this change it was run again after the loop)."""
    out, _ = tracked
    rows, evals = _rows(out), json.loads((out / "eval.json").read_text())
    assert main(["train", "--resume", str(out)]) == 0
    assert _rows(out) == rows and json.loads((out / "eval.json").read_text()) == evals
    assert evals["after"] is not None and "| after training |" in (out / "report.md").read_text()
    calls = [json.loads(x) for x in (out / "jsonl_tracker.jsonl").read_text().splitlines()]
    assert [c["resume"] for c in calls if c["call"] == "start"][-1] == 10
    assert [c["step"] for c in calls if c["call"] == "log"] == list(range(11))  # nothing sent again
