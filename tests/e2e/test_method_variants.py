"""Method variants whose state or signal is easy to get subtly wrong: exact resume with a
critic, adaptive GFPO's difficulty history and dynamic sampling; truncated importance sampling
against a bf16 sampler; PPO with the KL in the reward; GFPO by token efficiency."""
import json

import pytest
import torch
from safetensors.torch import load_file

from rlvr.config import load_config
from rlvr.train import train
from tests.equivalence import assert_unchanged

COMMON = ["--run.progress=false", "--eval.size=4", "--run.threads=1"]


def _run(tmp, name, algo, extra, resume=False):
    path = str(tmp / name / "config.yaml") if resume else "configs/tiny.yaml"
    cfg = load_config(path, COMMON + extra + [f"--run.out={tmp / name}"], algo=None if resume else algo)
    return train(cfg, resume=resume)


def _rows(path):
    return [json.loads(x) for x in (path / "metrics.jsonl").read_text().splitlines() if json.loads(x)["step"] > 0]


@pytest.mark.parametrize("algo, extra", [
    ("ppo", ["--algo.kl_coef=0.05", "--algo.kl_in_reward=true"]),      # critic + optimizer state
    ("gfpo", ["--algo.filter_adaptive_keep=[8, 8, 6, 4]"]),           # difficulty history
    ("dapo", []),                                                     # dynamic sampling's extra rounds
    ("jepo", ["--rollout.prompts_per_step=2"]),                       # answer likelihoods, KL reference
    ("remax", []),                                                    # the greedy-baseline sampler
], ids=["ppo_kl_in_reward", "gfpo_adaptive", "dapo", "jepo", "remax"])
def test_resume_matches_the_straight_run(tmp_path, algo, extra):
    _run(tmp_path, "straight", algo, extra + ["--run.steps=6", "--run.save_every=3"])
    _run(tmp_path, "stopped", algo, extra + ["--run.steps=3", "--run.save_every=3"])
    _run(tmp_path, "stopped", algo, ["--run.steps=6"], resume=True)
    assert_unchanged(f"variant:{algo}:{'+'.join(extra) or 'preset'}", tmp_path / "straight")
    a = load_file(tmp_path / "straight" / "checkpoints" / "step-6" / "model.safetensors")
    b = load_file(tmp_path / "stopped" / "checkpoints" / "step-6" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    ra, rb = _rows(tmp_path / "straight"), _rows(tmp_path / "stopped")
    assert [r["reward/mean"] for r in ra] == [r["reward/mean"] for r in rb]
    if algo == "ppo":
        sa = torch.load(tmp_path / "straight" / "checkpoints" / "step-6" / "trainer_state.pt", weights_only=False)
        sb = torch.load(tmp_path / "stopped" / "checkpoints" / "step-6" / "trainer_state.pt", weights_only=False)
        assert all(torch.equal(sa["critic"][k], sb["critic"][k]) for k in sa["critic"])
        assert all("kl" in r and "value/loss" in r for r in ra)
    if algo == "gfpo":
        # 4 prompts a step, min_history 16: from step 5 on the quartiles choose k per prompt
        assert all(r["filter/keep_mean"] == 8 for r in ra[:4])
        state = torch.load(tmp_path / "stopped" / "checkpoints" / "step-6" / "trainer_state.pt", weights_only=False)
        assert len(state["difficulty"]["values"]) == 6 * 4  # one mean reward per prompt, resumed included


def test_tis_corrects_a_bf16_sampler(tmp_path):
    _run(tmp_path, "tis", "grpo", ["--run.steps=2", "--rollout.dtype=bfloat16", "--algo.kl_coef=0",
                                   "--algo.correction=tis_token", "--algo.correction_args={cap: 1.001}"])
    assert_unchanged("variant:tis_bf16", tmp_path / "tis")
    rows = _rows(tmp_path / "tis")
    # bf16 weights make the sampler's log-probs differ from the fp32 trainer's
    assert all(r["mismatch/logp_abs_diff"] > 0 and r["mismatch/ratio_max"] > 1 for r in rows)
    assert any(r["correction/clipped_frac"] > 0 for r in rows)


def test_gfpo_by_token_efficiency(tmp_path):
    _run(tmp_path, "eff", "gfpo", ["--run.steps=2", "--algo.filter=token_efficiency", "--algo.filter_keep=4"])
    assert all(r["filter/kept_frac"] == 0.25 for r in _rows(tmp_path / "eff"))
    assert_unchanged("variant:gfpo_token_efficiency", tmp_path / "eff")
