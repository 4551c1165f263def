"""The two example datasets train from their few-line configs (the tiny model as base), a
hub dataset id trains from the local cache, and verl's `reward_model` dict named as the answer
stops the run before the model loads (issue 11 items 2 and 9)."""
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

import rlvr.train
from rlvr.cli import main
from tests.conftest import ROOT, rlvr_cmd

EXAMPLES = ROOT / "examples"
QUICK = ["--run.steps=2", "--run.save_every=0", "--eval.size=4", "--run.progress=false"]


def _data_overrides(config: Path) -> list[str]:
    """The example config's data section as overrides of configs/tiny.yaml (paths are relative
    to the repository root, as in the example)."""
    data = yaml.safe_load(config.read_text())["data"]
    return [f"--data.{k}={ROOT / v if k in ('train', 'eval') else v}" for k, v in data.items()]


def _rows(out, name):
    return [json.loads(x) for x in (out / name).read_text().splitlines()]


@pytest.mark.parametrize("example, references", [
    ("verl_gsm8k", "train.parquet"),
    ("trl_prompt_solution", "dataset"),
])
def test_an_example_dataset_trains_from_its_config(tmp_path, tiny_config_path, example, references):
    out = tmp_path / example
    argv = ["train", tiny_config_path, f"--out={out}", *QUICK, *_data_overrides(EXAMPLES / example / "config.yaml")]
    proc = subprocess.run(rlvr_cmd() + argv, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    steps = [r for r in _rows(out, "metrics.jsonl") if r["step"] > 0]
    assert [r["step"] for r in steps] == [1, 2] and all(r["reward/errors"] == 0 for r in steps)
    samples = _rows(out, "samples.jsonl")
    assert samples and all(isinstance(s["answer"], str) and s["answer"].isdigit() for s in samples)
    assert all(isinstance(s["prompt"], list) and s["prompt"][0]["role"] == "user" for s in samples)
    assert json.loads((out / "eval.json").read_text())["after"]["problems"] == 4


def test_a_hub_dataset_in_the_local_cache_trains_with_no_network(tmp_path, tiny_config_path):
    from tests.unit.data.test_hub_cache import REPO, fill_cache

    cache = tmp_path / "hf_datasets"
    fill_cache(cache, tmp_path / "raw")
    env = {**os.environ, "HF_DATASETS_CACHE": str(cache), "HF_HUB_OFFLINE": "0"}
    over = [f"--data.train={REPO}", f"--data.eval={REPO}", "--data.prompt_field=question",
            "--data.answer_field=answer.final"]
    proc = subprocess.run(rlvr_cmd() + ["config", tiny_config_path, *over, "--data.eval_split=validation"],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2 and "has no split 'validation' (its splits: train, test)" in proc.stderr
    out = tmp_path / "run"
    proc = subprocess.run(rlvr_cmd() + ["train", tiny_config_path, f"--out={out}", *QUICK, *over],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {s["answer"] for s in _rows(out, "samples.jsonl")} <= {str(i + 1) for i in range(6)}
    assert json.loads((out / "eval.json").read_text())["after"]["problems"] == 3  # the test split
    res = tmp_path / "eval.json"
    proc = subprocess.run(rlvr_cmd() + ["eval", "--model", str(out / "checkpoints" / "step-2"), "--data", REPO,
                                        "--split=train", "--size=0", "--k=", "--json", str(res)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(res.read_text())["problems"] == 6  # --split chose the train split's 6 rows


def test_verl_reward_model_dict_with_math_stops_before_the_model_loads(tmp_path, tiny_config_path, capsys,
                                                                       monkeypatch):
    """The user's attempt of issue 11 item 2, with the example's verl Parquet file."""
    def no_model(cfg):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(rlvr.train, "build_policy", no_model)
    data = EXAMPLES / "verl_gsm8k" / "train.parquet"
    assert main(["train", tiny_config_path, f"--out={tmp_path / 'run'}", *QUICK, f"--data.train={data}",
                 f"--data.eval={data}", "--data.answer_field=reward_model"]) == 2
    err = capsys.readouterr().err
    assert f"{data}: row 0: field 'reward_model' holds a dict (keys: style, ground_truth)" in err
    assert "the verifier 'math' (reward.verifiers[0])" in err
    assert "data.answer_field: reward_model.ground_truth" in err
    assert not (tmp_path / "run" / "metrics.jsonl").exists()
