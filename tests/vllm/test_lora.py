"""A LoRA policy (`model.lora.rank > 0`) with the vLLM engine: vLLM runs the base architecture
with the merged weights W + scaling·B@A (rlvr/rollout/weights.py), at construction and after
every update, and its log-probs are the LoRA policy's own as the trainer scores them."""
import copy
import json
import subprocess

import pytest

pytest.importorskip("vllm", reason="needs vllm: `make vllm-env`, then `make test-vllm`")
peft = pytest.importorskip("peft", reason="LoRA needs peft (`make vllm-env` installs it)")

import torch  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

from rlvr.rollout import SamplingParams, build_engine  # noqa: E402
from tests.conftest import rlvr_cmd  # noqa: E402
from tests.vllm.conftest import vllm_engine, vllm_tiny_model  # noqa: E402
from tests.vllm.test_logprobs import PROMPTS, trainer_logprobs  # noqa: E402

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
GREEDY = SamplingParams(max_new_tokens=12, temperature=0)
SAMPLED = SamplingParams(max_new_tokens=12, temperature=0.8, top_k=20)


def lora_policy(seed):
    model, tok = vllm_tiny_model(seed)
    return peft.get_peft_model(model, peft.LoraConfig(r=4, lora_alpha=32, target_modules=TARGETS,
                                                      task_type="CAUSAL_LM")), tok


def large_update(model, seed):
    """What a step at a large learning rate does to a LoRA policy: new B (and A) matrices. With
    scaling 32/4 = 8 and B ~ 0.05·N(0,1), B@A moves each weight by about as much as the weights
    themselves (init std 0.02), enough to change the greedy output of the tiny model."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_" in name:
                p.add_(torch.randn(p.shape, generator=gen) * 0.05)


def hf_on_merged(model, tok, prompts, sampling):
    merged = copy.deepcopy(model).merge_and_unload()  # peft's own merge, on a copy
    return build_engine("hf", merged, tok).generate(prompts, 1, sampling)


def check_scores(engine, model, tok, prompts):
    """Sampled completions, scored by the trainer on the PEFT model itself: to 1e-4 as
    test_logprobs.py holds float32 (the LoRA forward W·x + s·B(A·x) and vLLM's merged W'·x differ
    only by rounding)."""
    out = engine.generate(prompts, 3, SAMPLED)
    trainer, batch = trainer_logprobs(model, tok, prompts, out, SAMPLED.temperature)
    gap = (trainer * batch.mask - batch.rollout_logp).abs()
    assert gap.max() < 1e-4, gap.max()


def test_lora_policy_is_built_synced_and_scored_merged():
    model, tok = lora_policy(5)
    large_update(model, 0)  # B starts at zero; a trained adapter does not
    prompts = [tok(p).input_ids for p in PROMPTS]
    engine = vllm_engine(model, tok)
    before = engine.generate(prompts, 1, GREEDY)
    expected = hf_on_merged(model, tok, prompts, GREEDY)
    assert [c.token_ids for c in before] == [c.token_ids for c in expected]  # built on the merged weights
    for a, b in zip(before, expected):
        assert torch.allclose(torch.tensor(a.logprobs), torch.tensor(b.logprobs), atol=1e-4)
    check_scores(engine, model, tok, prompts)

    trainer_state = {k: v.clone() for k, v in model.state_dict().items()}
    large_update(model, 1)
    engine.update_weights(model)
    after = engine.generate(prompts, 1, GREEDY)
    assert [c.token_ids for c in after] != [c.token_ids for c in before]
    assert [c.token_ids for c in after] == [c.token_ids for c in hf_on_merged(model, tok, prompts, GREEDY)]
    check_scores(engine, model, tok, prompts)
    # the sync merged on the side: the trainer's frozen base weights are bit for bit the ones
    # before the update (only the adapters moved), and no layer was left merged
    now = model.state_dict()
    assert all(torch.equal(now[k], trainer_state[k]) for k in now if "lora_" not in k)
    assert not any(getattr(m, "merged", False) for m in model.modules())


def test_lora_run_with_vllm(tmp_path, tiny_config_path):
    """`rlvr train` with LoRA and `rollout.engine=vllm`: at a learning rate large enough to move
    the log-probs far (Adam moves every adapter entry by about lr = 0.02 at step 1, scaled by 8),
    the engine's and trainer's log-probs still agree to 1e-4 at step 2 — the engine sampled from
    the merged weights of step 1, not the base's."""
    folder = tmp_path / "model"
    model, tok = vllm_tiny_model(0)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    out = tmp_path / "run"
    cmd = rlvr_cmd() + ["train", tiny_config_path, "--out", str(out), f"--model.path={folder}",
                        "--rollout.engine=vllm", "--model.lora.rank=4", "--optim.lr=0.02", "--reward=random",
                        "--run.steps=2", "--run.save_every=1", "--run.progress=false", "--eval.size=8"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if r["step"] > 0]
    assert [r["step"] for r in train] == [1, 2]
    assert all(r["groups/all_equal_frac"] < 1 for r in train)  # random rewards: every step learns
    assert all(r["mismatch/logp_abs_diff"] < 1e-4 for r in train), [r["mismatch/logp_abs_diff"] for r in train]

    base = load_file(folder / "model.safetensors")
    step1 = load_file(out / "checkpoints" / "step-1" / "model.safetensors")  # merged by the checkpoint
    name = "model.layers.0.self_attn.q_proj.weight"
    assert step1.keys() == base.keys()
    assert (step1[name] - base[name]).abs().max() > 1e-3  # the adapter moved the weights
    assert torch.equal(step1["model.embed_tokens.weight"], base["model.embed_tokens.weight"])  # frozen
    assert (out / "checkpoints" / "step-2" / "adapter").is_dir()
    AutoModelForCausalLM.from_pretrained(out / "checkpoints" / "step-2")
