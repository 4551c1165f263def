"""Reward composition end to end on the tiny model: gates and the spurious-reward controls
run through `rlvr train` with their components logged separately."""
import json

import pytest

from rlvr.cli import main
from tests.equivalence import assert_unchanged


def _rows(out):
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["step"] > 0 and "reward/mean" in r]


def test_gated_component_is_logged_and_adds_up(tmp_path, tiny_config_path):
    out = tmp_path / "gated"
    spec = ("[{name: math, options: {answer_pattern: '(\\d+)'}}, "
            "{name: random, weight: 0.5, gate: math, options: {seed: 1}}]")
    assert main(["train", tiny_config_path, f"--out={out}", "--run.steps=3", f"--reward.verifiers={spec}",
                 "--eval.size=0", "--run.progress=false"]) == 0
    assert_unchanged("reward_presets:test_gated_component_is_logged_and_adds_up", out)
    rows = _rows(out)
    assert len(rows) == 3
    for r in rows:
        # total = 1·math + 0.5·random·1[math = 1], averaged over the step's completions
        assert r["reward/mean"] == pytest.approx(r["reward/math"] + 0.5 * r["reward/random/gated"], abs=1e-6)
        assert r["reward/random/gate_open"] == pytest.approx(r["reward/math"])  # math is 0/1 here
        assert r["reward/random/gated"] <= min(r["reward/random"], r["reward/math"]) + 1e-9
    assert any(r["reward/random/gated"] > 0 for r in rows), "the gate opens for some correct answers"


@pytest.mark.parametrize("preset, component", [("random", "reward/random"), ("format_only", "reward/format")])
def test_spurious_presets_train_and_still_measure_accuracy(tmp_path, tiny_config_path, preset, component):
    out = tmp_path / preset
    assert main(["train", tiny_config_path, f"--out={out}", f"--reward={preset}", "--run.steps=2",
                 "--eval.size=0", "--run.progress=false"]) == 0
    assert_unchanged(f"reward_presets:{preset}", out)
    rows = _rows(out)
    saved = (out / "config.yaml").read_text()
    assert "accuracy_from: math" in saved  # the resolved preset is saved with the run
    for r in rows:
        assert component in r and "reward/math" in r
        assert r["reward/mean"] == pytest.approx(r[component], abs=1e-6)  # math has weight 0
        assert r["accuracy"] == pytest.approx(r["reward/math"], abs=1e-6)
    if preset == "random":
        assert 0 < sum(r["reward/random"] for r in rows) / len(rows) < 1


def test_strict_string_match_trains_and_agrees_with_math_on_integers(tmp_path, tiny_config_path):
    out = tmp_path / "strict"
    spec = "[{name: strict, options: {answer_pattern: '(\\d+)'}}, {name: math, weight: 0.0, options: {answer_pattern: '(\\d+)'}}]"
    assert main(["train", tiny_config_path, f"--out={out}", "--run.steps=2", f"--reward.verifiers={spec}",
                 "--eval.size=0", "--run.progress=false"]) == 0
    assert_unchanged("reward_presets:test_strict_string_match_trains_and_agrees_with_math_on_integers", out)
    for r in _rows(out):
        # on the tiny task the answers are single digits: exact match and equivalence coincide
        assert r["reward/strict"] == pytest.approx(r["reward/math"]) and r["accuracy"] == r["reward/strict"]


@pytest.mark.parametrize("preset", ["math", "gated_math", "majority"])
def test_the_other_reward_presets_train(tmp_path, tiny_config_path, preset):
    """Every reward preset runs end to end (random and format_only above); the fingerprint pins
    the refactor of issue 10 to the recorded numbers."""
    out = tmp_path / preset
    assert main(["train", tiny_config_path, f"--out={out}", f"--reward={preset}", "--run.steps=2",
                 "--eval.size=0", "--run.progress=false"]) == 0
    rows = _rows(out)
    assert len(rows) == 2 and all(r["reward/errors"] == 0 for r in rows)
    assert_unchanged(f"reward_presets:{preset}", out)
