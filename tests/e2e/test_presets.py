"""Every algorithm preset trains end to end on the tiny model, as a user runs it:
`rlvr train configs/tiny.yaml --algo=<preset>`; each leaves its own fingerprint in the metrics."""
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rlvr.cli import main
from rlvr.config import algo_presets
from tests.equivalence import assert_unchanged

# preset → metrics that only that method writes (and a check of their value)
FINGERPRINTS = {
    "grpo": {"kl": lambda v: v >= 0},
    "dr_grpo": {},
    "dapo": {"dynamic/rounds": lambda v: 1 <= v <= 10},
    "gspo": {"clip_frac": lambda v: 0 <= v <= 1},
    "gmpo": {"ratio_max": lambda v: v > 1.0},  # 8 optimizer steps per rollout: π moves off π_old (fix 2)
    "gfpo": {"filter/kept_frac": lambda v: v == 0.5},  # 8 of 16
    "delta_l": {},
    "rloo": {},
    "reinforce_pp": {"kl": lambda v: v >= 0},
    "reinforce_pp_baseline": {"kl": lambda v: v >= 0},
    "remax": {"reward/greedy_mean": lambda v: 0 <= v <= 1},
    "ppo": {"value/loss": lambda v: v >= 0, "value/grad_norm": lambda v: v > 0},
    "jepo": {"jepo/evidence": lambda v: v < 0, "jepo/valid_frac": lambda v: v == 1.0},
    "one_shot": {"kl": lambda v: v >= 0, "entropy": lambda v: v > 0},
    "entropy_only": {"entropy": lambda v: v > 0, "grad_norm": lambda v: v > 0},
    "brpo": {"pairwise/position_disagreement": lambda v: 0 <= v <= 1, "reward/errors": lambda v: v == 0},
}


def test_every_preset_has_a_fingerprint_and_a_docs_page():
    root = Path(__file__).resolve().parents[2]
    assert set(algo_presets()) == set(FINGERPRINTS)
    for name in FINGERPRINTS:
        assert (root / "docs" / "algorithms" / f"{name}.md").is_file(), name


@pytest.mark.parametrize("preset", sorted(FINGERPRINTS))
def test_preset_trains_end_to_end(preset, tmp_path, tiny_config_path):
    out = tmp_path / preset
    code = main(["train", tiny_config_path, f"--algo={preset}", f"--out={out}", "--run.steps=2",
                 "--run.save_every=0", "--eval.size=4", "--run.progress=false", "--run.threads=1"])
    assert code == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if r["step"] > 0]
    assert [r["step"] for r in steps] == [1, 2]
    for r in steps:
        assert all(v == v for v in r.values() if isinstance(v, float)), "NaN in metrics"
    for key, check in FINGERPRINTS[preset].items():
        assert any(key in r and check(r[key]) for r in steps), (key, [r.get(key) for r in steps])
    # the weights moved unless no step had anything to learn from
    learned = sum(r.get("sequences_trained", 0) for r in steps)
    model = load_file(str(out / "checkpoints" / "step-2" / "model.safetensors"))
    from rlvr.models import tiny_model
    init = tiny_model(0)[0].state_dict()
    moved = any(not torch.equal(model[k], init[k]) for k in model if k in init)
    assert moved == (learned > 0)
    saved = (out / "config.yaml").read_text()
    assert "path: tiny" in saved  # the tiny file stays underneath the preset
    assert_unchanged(f"algo:{preset}", out)


def test_jepo_raises_the_reference_answers_likelihood(tmp_path, tiny_config_path):
    """JEPO on the long-answer derivations task: no verifier is involved, and the evidence
    bound log (1/n) Σ π(a* | x, c_i) on the same two prompts climbs over a few steps."""
    out = tmp_path / "jepo"
    assert main(["train", tiny_config_path, "--algo=jepo", f"--out={out}", "--run.steps=8",
                 "--data.train_limit=2", "--rollout.prompts_per_step=2", "--eval.before=false",
                 "--eval.after=false", "--run.progress=false", "--run.threads=1"]) == 0
    ev = [json.loads(line)["jepo/evidence"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert sum(ev[-3:]) / 3 > sum(ev[:3]) / 3 + 10, ev  # nats; measured: about −290 → −200
