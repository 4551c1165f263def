"""reasoning-gym end to end on the tiny model, through the real CLI path: two tasks in one run,
scored by their own score_answer in the worker pool, with per-task metrics for every training
step (`reward/<task>`) and every held-out evaluation (`eval/<task>/accuracy`) — and a resumed
run that ends with the straight run's weights."""
import json
import re

import pytest
import torch
from safetensors.torch import load_file

pytest.importorskip("reasoning_gym")

from rlvr.cli import main  # noqa: E402
from rlvr.config import load_config  # noqa: E402
from rlvr.train import train  # noqa: E402

TASKS = "rg:chain_sum,leg_counting"
ARGS = [f"--data.train={TASKS}", f"--data.eval={TASKS}",
        "--data.rg={chain_sum: {max_terms: 2, max_digits: 1}, leg_counting: {min_animals: 1, max_animals: 1, "
        "max_instances: 2}}",
        # the random model writes no <answer> tag; score the last number it writes instead
        "--reward.verifiers=[{name: reasoning_gym, options: {answer_pattern: '(\\d+)'}}]",
        "--eval.size=6", "--run.progress=false"]


def _rows(out):
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]


def test_two_tasks_train_with_per_task_metrics(tmp_path, tiny_config_path):
    out = tmp_path / "rg"
    assert main(["train", tiny_config_path, f"--out={out}", "--run.steps=3", "--eval.every=2"] + ARGS) == 0
    rows = _rows(out)
    steps = [r for r in rows if r["step"] > 0 and "reward/mean" in r]
    assert len(steps) == 3
    for r in steps:
        assert 0 <= r["reward/chain_sum"] <= 1 and 0 <= r["reward/leg_counting"] <= 1
        assert r["reward/errors"] == 0
        # 4 prompts a step, alternating: each task has half the completions, so the means add up
        assert r["reward/reasoning_gym"] == pytest.approx((r["reward/chain_sum"] + r["reward/leg_counting"]) / 2)
    evals = [r for r in rows if "eval/accuracy" in r]
    assert [r["step"] for r in evals][:2] == [0, 2]  # before training and the periodic one
    for r in evals:
        assert r["eval/chain_sum/problems"] == 3 and r["eval/leg_counting/problems"] == 3
        assert r["eval/accuracy"] == pytest.approx((r["eval/chain_sum/accuracy"] + r["eval/leg_counting/accuracy"]) / 2)
    after = json.loads((out / "eval.json").read_text())["after"]
    assert {"chain_sum/accuracy", "leg_counting/accuracy"} <= set(after)
    import reasoning_gym

    for line in (out / "samples.jsonl").read_text().splitlines():
        sample = json.loads(line)
        ref = sample["answer"]  # the reference, as JSON: the task, its options, its entry
        assert ref["task"] in ("chain_sum", "leg_counting") and sample["prompt"] == ref["entry"]["question"]
        assert sample["verifiers"]["reasoning_gym"]["task"] == ref["task"]
        # the logged reward is what the task's own scorer gives the completion's last number
        numbers = re.findall(r"\d+", sample["completion"])
        task = reasoning_gym.create_dataset(ref["task"], seed=0, size=1, **ref["options"])
        expected = task.score_answer(numbers[-1], ref["entry"]) if numbers else 0.0
        assert sample["reward"] == pytest.approx(expected)


def _run(tmp, name, extra, resume=False):
    path = str(tmp / name / "config.yaml") if resume else "configs/tiny.yaml"
    cfg = load_config(path, ARGS + extra + [f"--run.out={tmp / name}", "--eval.before=false",
                                            "--eval.after=false"])
    return train(cfg, resume=resume)


def test_resume_on_rg_tasks_matches_the_straight_run(tmp_path):
    _run(tmp_path, "straight", ["--run.steps=4", "--run.save_every=2"])
    _run(tmp_path, "stopped", ["--run.steps=2", "--run.save_every=2"])
    _run(tmp_path, "stopped", ["--run.steps=4"], resume=True)
    a = load_file(tmp_path / "straight" / "checkpoints" / "step-4" / "model.safetensors")
    b = load_file(tmp_path / "stopped" / "checkpoints" / "step-4" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    straight, resumed = _rows(tmp_path / "straight"), _rows(tmp_path / "stopped")
    assert [r["reward/chain_sum"] for r in straight if r["step"] > 2] == \
           [r["reward/chain_sum"] for r in resumed if r["step"] > 2]
