"""Asynchronous steps with `rollout.engine=vllm` through the real command: vLLM generates on the
rollout thread while the trainer updates, rollout j comes from the weights after step
max(0, j − 2), and a run resumed from its middle checkpoint ends with the same weights."""
import json
import subprocess

import pytest

pytest.importorskip("vllm", reason="needs vllm: `make vllm-env`, then `make test-vllm`")

from tests.conftest import rlvr_cmd  # noqa: E402
from tests.vllm.conftest import assert_resume_from_middle_matches, vllm_tiny_model  # noqa: E402

ARGS = ["--run.progress=false", "--rollout.engine=vllm", "--run.steps=4", "--run.save_every=2",
        "--eval.before=false", "--eval.size=8", "--rollout.max_staleness=1", "--reward=random",
        "--algo.correction=tis_token"]


def _train(args, timeout=600):
    proc = subprocess.run(rlvr_cmd() + ["train"] + args, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_asynchronous_vllm_run_then_resume(tmp_path, tiny_config_path):
    folder = tmp_path / "model"
    model, tok = vllm_tiny_model(0)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    out = tmp_path / "run"
    stdout = _train([tiny_config_path, "--out", str(out), f"--model.path={folder}"] + ARGS)
    assert "held-out greedy accuracy after" in stdout
    rows = {r["step"]: r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())}
    assert [rows[s]["policy_version"] for s in (1, 2, 3, 4)] == [0, 0, 1, 2]
    assert [rows[s]["staleness/mean"] for s in (1, 2, 3, 4)] == [0, 1, 1, 1]
    # fp32 vLLM scores as the trainer does (< 1e-4, tests/vllm/test_tiny_run.py) for the fresh
    # rollout; the stale ones were sampled one update (lr 3e-3, random rewards) earlier
    assert rows[1]["mismatch/logp_abs_diff"] < 1e-4
    assert all(rows[s]["mismatch/logp_abs_diff"] > 1e-3 for s in (2, 3, 4)), rows

    assert_resume_from_middle_matches(out, tmp_path / "resumed", _train, last=4, middle=2)
