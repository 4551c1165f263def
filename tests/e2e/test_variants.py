"""The optional parts of the loop on the tiny model: LoRA, a KL reference, warm-up,
activation checkpointing, several epochs over mini-batches — and exact resume with them."""
import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM

from rlvr.config import load_config
from rlvr.train import train
from tests.equivalence import assert_unchanged

VARIANT = ["--model.lora.rank=4", "--model.lora.alpha=8", "--algo.kl_coef=0.05", "--optim.warmup_steps=8",
           "--model.activation_checkpointing=true", "--algo.epochs=2", "--algo.mini_batch_size=16",
           "--run.progress=false", "--eval.size=4", "--run.save_every=3"]


def _run(tmp, name, extra, resume=False):
    cfg = load_config(str(tmp / name / "config.yaml") if resume else "configs/tiny.yaml",
                      VARIANT + extra + [f"--run.out={tmp / name}"])
    return train(cfg, resume=resume)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("variants")
    _run(tmp, "straight", ["--run.steps=6"])
    _run(tmp, "stopped", ["--run.steps=3"])
    _run(tmp, "stopped", ["--run.steps=6"], resume=True)  # continue the finished run to step 6
    return tmp


def test_lora_kl_warmup_and_epochs_are_logged(runs):
    rows = [json.loads(x) for x in (runs / "straight" / "metrics.jsonl").read_text().splitlines()][1:]
    assert all("kl" in r and r["kl"] >= 0 for r in rows)
    # warm-up over 8 optimizer steps; 32 sequences per rollout in mini-batches of 16, 2 epochs:
    # 4 optimizer steps per rollout step, at lr·1/8 … 4/8, and the last one taken is logged
    lr = load_config("configs/tiny.yaml").optim.lr
    assert rows[0]["lr"] == pytest.approx(lr * 4 / 8) and rows[1]["lr"] == pytest.approx(lr)
    assert rows[0]["ratio_max"] >= 1.0


def test_lora_checkpoint_is_merged_and_loadable(runs):
    ckpt = runs / "straight" / "checkpoints" / "step-6"
    assert (ckpt / "adapter" / "adapter_config.json").is_file()
    merged = AutoModelForCausalLM.from_pretrained(ckpt)
    assert not any("lora" in n for n, _ in merged.named_parameters())
    base = load_file(runs / "straight" / "checkpoints" / "step-3" / "model.safetensors")
    later = load_file(ckpt / "model.safetensors")
    changed = [k for k in base if not torch.equal(base[k], later[k])]
    assert any("q_proj" in k for k in changed)  # the adapters moved the merged weights


def test_lora_resume_matches_the_straight_run(runs):
    assert_unchanged("variant:lora_kl_warmup_epochs", runs / "straight")
    a = load_file(runs / "straight" / "checkpoints" / "step-6" / "model.safetensors")
    b = load_file(runs / "stopped" / "checkpoints" / "step-6" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
