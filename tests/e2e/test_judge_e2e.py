"""The model-based verifiers train end to end on the tiny config through the real CLI: the
judge model (`model: policy` → the run's tiny model) loads in the pool's workers, scores
batches and groups there, and its info reaches the step metrics and samples.jsonl."""
import json

from rlvr.cli import main
from tests.equivalence import assert_unchanged


def _read(out, name):
    return [json.loads(x) for x in (out / name).read_text().splitlines()]


def test_judge_as_tinyv_fallback_to_the_rule(tmp_path, tiny_config_path):
    out = tmp_path / "judge"
    assert main(["train", tiny_config_path, f"--out={out}", "--run.steps=2", "--eval.size=4",
                 "--run.progress=false", "--run.save_every=0",
                 "--reward.verifiers=[{name: judge, options: {model: policy, mode: fallback, "
                 "rule_options: {answer_pattern: '(\\d+)'}}}]"]) == 0
    assert_unchanged("judge_e2e:test_judge_as_tinyv_fallback_to_the_rule", out)
    steps = [r for r in _read(out, "metrics.jsonl") if r["step"] > 0]
    assert len(steps) == 2 and all(r["reward/errors"] == 0 and r["reward/timeouts"] == 0 for r in steps)
    for r in steps:
        assert 0 <= r["judge/judged_frac"] <= 1 and 0 <= r["judge/rescued_frac"] <= r["judge/judged_frac"]
    assert any(0 < r.get("judge/p_yes_mean", 0) < 1 for r in steps)  # the tiny judge answered somewhere
    for s in _read(out, "samples.jsonl"):
        v = s["verifiers"]["judge"]
        assert v["source"] in ("rule", "judge", "cache", "no_answer") and "rule_reward" in v
        if v["source"] in ("judge", "cache"):  # fallback: reward = 1 × P(yes) when the rule said no
            assert v["rule_reward"] == 0 and abs(v["reward"] - v["p_yes"]) < 1e-9


def test_pairwise_rewards_are_the_advantages(tmp_path, tiny_config_path):
    # The random tiny judge only ever prefers one position, so every comparison splits (−1)
    # and BRPO's 0.6 imbalance rule would drop every group; max_imbalance 1 keeps them so
    # the policy is trained on the raw rewards.
    out = tmp_path / "pairwise"
    assert main(["train", tiny_config_path, f"--out={out}", "--run.steps=2", "--eval.size=4",
                 "--run.progress=false", "--run.save_every=0", "--algo.advantage=raw",
                 "--reward.verifiers=[{name: pairwise, options: {model: policy, max_imbalance: 1.0}}]",
                 "--reward.timeout_s=20"]) == 0
    assert_unchanged("judge_e2e:test_pairwise_rewards_are_the_advantages", out)
    steps = [r for r in _read(out, "metrics.jsonl") if r["step"] > 0]
    assert all(r["reward/errors"] == 0 and 0 <= r["pairwise/position_disagreement"] <= 1 for r in steps)
    assert all(r["pairwise/dropped_frac"] == 0 and r["sequences_trained"] > 0 for r in steps)
    for s in _read(out, "samples.jsonl"):
        v = s["verifiers"]["pairwise"]
        assert v["role"] in ("reference", "challenger", "duplicate")
        assert s["reward"] in (-1.0, 0.0, 1.0) and abs(s["advantage"] - s["reward"]) < 1e-6  # Â = R
