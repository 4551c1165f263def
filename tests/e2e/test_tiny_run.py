"""Whole runs of the tiny preset through the real `rlvr` command."""
import json
import subprocess

import pytest
import torch
from transformers import AutoModelForCausalLM

from rlvr.config import load_config
from tests.conftest import rlvr_cmd
from tests.equivalence import assert_unchanged


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny_config_path):
    out = tmp_path_factory.mktemp("tiny") / "run"
    proc = subprocess.run(rlvr_cmd() + ["train", tiny_config_path, "--out", str(out), "--run.progress=false"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc.stdout


def test_run_folder_has_every_artefact(tiny_run, tiny_config_path):
    out, stdout = tiny_run
    assert "held-out greedy accuracy before" in stdout and "held-out greedy accuracy after" in stdout
    for name in ("config.yaml", "metrics.jsonl", "samples.jsonl", "reward.png", "report.md", "eval.json"):
        assert (out / name).is_file(), name
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    assert load_config(str(out / "config.yaml")) == load_config(tiny_config_path, {"run": {"out": str(out), "progress": False}})
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == list(range(0, 21))  # step 0: the evaluation before training
    assert {"reward/mean", "accuracy", "length/mean", "time/step_s", "loss", "grad_norm"} <= set(lines[1])
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 20 * 2 and {"prompt", "completion", "reward", "verifiers"} <= set(samples[0])
    assert_unchanged("tiny_run:default", out)


def test_checkpoints_load_with_from_pretrained(tiny_run):
    out, _ = tiny_run
    names = sorted(p.name for p in (out / "checkpoints").iterdir())
    assert names == ["step-10", "step-15", "step-20", "step-5"]
    model = AutoModelForCausalLM.from_pretrained(out / "checkpoints" / "step-20")
    ours = torch.load(out / "checkpoints" / "step-20" / "trainer_state.pt", weights_only=False)
    assert ours["step"] == 20 and "optimizer" in ours and "rng" in ours and ours["data"]["position"] == 20 * 4
    assert model.config.hidden_size == 64
    assert (out / "checkpoints" / "step-20" / "tokenizer_config.json").is_file()


def test_eval_command_on_a_checkpoint(tiny_run, tmp_path):
    out, _ = tiny_run
    res = tmp_path / "eval.json"
    proc = subprocess.run(rlvr_cmd() + ["eval", "--model", str(out / "checkpoints" / "step-20"),
                                        "--k", "1,2,4", "--size", "16", "--json", str(res)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "using the prompt format" in proc.stdout and "pass@4" in proc.stdout
    data = json.loads(res.read_text())
    assert data["problems"] == 16 and data["n"] == 4
    assert 0 <= data["pass@1"] <= data["pass@2"] <= data["pass@4"] <= 1
    # the same held-out set, prompt format and precision as the run's own final evaluation
    after = json.loads((out / "eval.json").read_text())["after"]
    assert data["accuracy"] == after["accuracy"]
    assert [e["completion"] for e in data["examples"]] == [e["completion"] for e in after["examples"]]


def test_a_second_run_into_the_same_folder_is_refused(tiny_run, tiny_config_path):
    out, _ = tiny_run
    proc = subprocess.run(rlvr_cmd() + ["train", tiny_config_path, "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "--resume" in proc.stderr
