"""A whole run with `rollout.engine=vllm` through the real `rlvr` command: the tiny preset on a
tiny Llama saved to a folder (vLLM builds its model from one), then the same run resumed from
its middle checkpoint ends with the same weights, bit for bit."""
import json
import subprocess

import pytest

pytest.importorskip("vllm", reason="needs vllm: `make vllm-env`, then `make test-vllm`")

from tests.conftest import rlvr_cmd  # noqa: E402
from tests.vllm.conftest import assert_resume_from_middle_matches, vllm_tiny_model  # noqa: E402

ARGS = ["--run.progress=false", "--rollout.engine=vllm", "--run.steps=4", "--run.save_every=2",
        "--eval.size=8"]


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-vllm") / "model"
    model, tok = vllm_tiny_model(0)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def _train(args, timeout=600):
    proc = subprocess.run(rlvr_cmd() + ["train"] + args, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_tiny_run_with_vllm_then_resume(tmp_path, tiny_folder, tiny_config_path):
    out = tmp_path / "run"
    stdout = _train([tiny_config_path, "--out", str(out), f"--model.path={tiny_folder}"] + ARGS)
    assert "held-out greedy accuracy after" in stdout
    lines = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [0, 1, 2, 3, 4]
    assert all(0 <= r["reward/mean"] <= 1 and r["length/mean"] >= 1 for r in lines[1:])
    # the engine (float32 by default) scores the tokens as the trainer does
    assert all(r["mismatch/logp_abs_diff"] < 1e-4 for r in lines[1:]), [r["mismatch/logp_abs_diff"] for r in lines]

    # resume from step 2 in a copy of the run: the same samples, the same final weights
    assert_resume_from_middle_matches(out, tmp_path / "resumed", _train, last=4, middle=2)
