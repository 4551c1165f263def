"""`rlvr train --nproc 2`: two gloo processes with FSDP2 train the tiny preset into one run
folder in the one-process format; resuming with 2 processes is bit-identical, and a run
resumes across process counts (2 → 1, 1 → 2)."""
import json
import shutil
import subprocess

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from rlvr.checkpoint import verify_checkpoint
from tests.conftest import rlvr_cmd

pytestmark = pytest.mark.scale  # several processes: `make test-scale` (CI runs it after `make test`)

# one thread in every process (torchrun's default for several), so that 1 and 2 processes
# compute the first step's rollout alike
ARGS = ["--run.progress=false", "--eval.before=false", "--eval.after=false", "--run.trackers=[]",
        "--run.save_every=2", "--run.threads=1"]


def _rlvr(*args: str) -> str:
    proc = subprocess.run(rlvr_cmd() + ["train", *args], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout[-2000:], proc.stderr[-4000:])
    return proc.stdout


def _weights(run, step: int) -> dict:
    return load_file(run / "checkpoints" / f"step-{step}" / "model.safetensors")


def _rows(run, name: str) -> list[dict]:
    return [json.loads(x) for x in (run / name).read_text().splitlines()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_config_path):
    root = tmp_path_factory.mktemp("nproc")
    out = {k: root / k for k in ("two", "half", "two_to_one", "one", "one_to_two")}
    out["stdout_two"] = _rlvr(tiny_config_path, "--nproc", "2", "--out", str(out["two"]), "--run.steps=4", *ARGS)
    _rlvr(tiny_config_path, "--nproc=2", "--out", str(out["half"]), "--run.steps=2", *ARGS)
    shutil.copytree(out["half"], out["two_to_one"])
    out["stdout_resume"] = _rlvr("--resume", str(out["half"]), "--nproc", "2", "--run.steps=4")
    _rlvr("--resume", str(out["two_to_one"]), "--run.steps=4")  # one process
    _rlvr(tiny_config_path, "--out", str(out["one"]), "--run.steps=2", *ARGS)
    shutil.copytree(out["one"], out["one_to_two"])
    _rlvr("--resume", str(out["one_to_two"]), "--nproc", "2", "--run.steps=4")
    return out


def test_two_processes_write_one_run_folder_in_the_one_process_format(runs):
    two, one = runs["two"], runs["one"]
    assert "starting 2 training processes" in runs["stdout_two"]
    assert [r["step"] for r in _rows(two, "metrics.jsonl")] == [1, 2, 3, 4]  # written once, not per process
    for step in (2, 4):
        assert verify_checkpoint(two / "checkpoints" / f"step-{step}") is None
    a = sorted(p.name for p in (two / "checkpoints" / "step-2").iterdir())
    assert a == sorted(p.name for p in (one / "checkpoints" / "step-2").iterdir())
    assert _weights(two, 2).keys() == _weights(one, 2).keys()
    model = AutoModelForCausalLM.from_pretrained(two / "checkpoints" / "step-4")
    for name, w in _weights(two, 4).items():
        assert torch.equal(model.state_dict()[name], w), name


def test_the_first_step_is_the_one_process_step(runs):
    two, one = runs["two"], runs["one"]
    # the same prompts and completions (generated alike in every process) ...
    assert _rows(two, "samples.jsonl")[:2] == _rows(one, "samples.jsonl")[:2]
    m2, m1 = _rows(two, "metrics.jsonl")[0], _rows(one, "metrics.jsonl")[0]
    for key in ("reward/mean", "accuracy", "length/mean", "sequences_trained"):
        assert m2[key] == m1[key], key
    # ... and the same update, up to the order of float additions
    for key in ("loss", "grad_norm"):
        assert m2[key] == pytest.approx(m1[key], rel=1e-5, abs=1e-7), key


def test_resume_with_two_processes_is_bit_identical(runs):
    assert "resuming" in runs["stdout_resume"]
    a, b = _weights(runs["two"], 4), _weights(runs["half"], 4)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].equal(b[name]), name
    assert [r["step"] for r in _rows(runs["half"], "metrics.jsonl")] == [1, 2, 3, 4]


def test_a_run_resumes_across_process_counts(runs):
    straight = _weights(runs["two"], 4)
    for name in ("two_to_one", "one_to_two"):
        resumed = _weights(runs[name], 4)
        assert resumed.keys() == straight.keys()
        worst = max(float((resumed[k] - straight[k]).abs().max()) for k in straight)
        # equal up to the order of float additions, which Adam's steps amplify a little
        assert worst < 1e-4, (name, worst)  # 4e-6 measured for 1 → 2, 0 for 2 → 1
        assert [r["step"] for r in _rows(runs[name], "metrics.jsonl")] == [1, 2, 3, 4]


@pytest.mark.parametrize("algo", ["ppo", "jepo"])  # critic + KL; answer batch. DAPO's token_mean is in test_fsdp_update
def test_every_metric_of_two_processes_is_the_one_process_metric(tmp_path, tiny_config_path, algo):
    """A critic (PPO: a whole copy in every process), overlong filtering (DAPO: rows out of the
    denominators), a supervised term (JEPO) and a KL penalty against a whole reference model."""
    args = [tiny_config_path, f"--algo={algo}", "--run.steps=2", "--algo.kl_coef=0.05", *ARGS]
    _rlvr(*args, "--out", str(tmp_path / "one"))
    _rlvr(*args, "--nproc", "2", "--out", str(tmp_path / "two"))
    one, two = _rows(tmp_path / "one", "metrics.jsonl"), _rows(tmp_path / "two", "metrics.jsonl")
    assert len(one) == len(two) == 2
    for a, b in zip(one, two):
        assert a.keys() == b.keys()
        for key, value in a.items():
            if not key.startswith("time/") and "per_s" not in key:
                assert b[key] == pytest.approx(value, rel=1e-5, abs=1e-6), (algo, a["step"], key)
