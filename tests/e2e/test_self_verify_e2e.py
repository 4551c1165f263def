"""RISE self-verification end to end with the tiny model: the verification groups are
generated, scored in the verifier pool and trained with the generation groups in one
update; the generation task's metrics stay its own; a stopped and resumed run is exact."""
import json

import torch
from safetensors.torch import load_file

import rlvr.train
from rlvr.cli import main
from tests.equivalence import assert_unchanged

# The tiny model writes digits, never boxes: binary targets ("1" / "0") and its last digit as
# the rating make its verification rewards non-trivial.
SELF_VERIFY = ["--self_verify.enabled=true", "--self_verify.solutions=2", "--self_verify.targets=binary",
               "--self_verify.answer_pattern=(\\d)"]
COMMON = ["--run.progress=false", "--eval.size=4", "--run.threads=1"]


def _rows(out):
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if json.loads(x)["step"] > 0]


def test_verification_groups_train_with_the_generation_groups(tmp_path, tiny_config_path, monkeypatch):
    sizes = []
    real_update = rlvr.train.update_policy

    def spy(model, train, **kw):
        sizes.append((len(train.batch), train.advantages.shape[0]))
        return real_update(model, train, **kw)

    monkeypatch.setattr(rlvr.train, "update_policy", spy)
    out = tmp_path / "rise"
    assert main(["train", tiny_config_path, f"--out={out}", "--run.steps=2", *SELF_VERIFY, *COMMON]) == 0
    assert_unchanged("self_verify:rise", out)
    # tiny: 4 prompts × 8 completions, plus 2 verification groups of 8
    assert sizes == [((4 + 2) * 8, (4 + 2) * 8)] * 2
    rows = _rows(out)
    for r in rows:
        assert r["self_verify/groups"] == 2 and r["self_verify/errors"] == 0
        assert 0 <= r["self_verify/accuracy"] <= 1 and 0 <= r["self_verify/no_score_frac"] < 1
        assert r["self_verify/reward_mean"] == r["self_verify/accuracy"]  # `match` reward: 1 or 0
    assert any(r["self_verify/accuracy"] > 0 for r in rows), "some ratings agree with the outcome"

    # the generation task's reward and accuracy are those of its own groups: the first step,
    # before any update, is identical to a run without self-verification
    plain = tmp_path / "plain"
    assert main(["train", tiny_config_path, f"--out={plain}", "--run.steps=1", *COMMON]) == 0
    first = _rows(plain)[0]
    for key in ("reward/mean", "accuracy", "length/mean", "groups/all_equal_frac"):
        assert rows[0][key] == first[key], key


def test_resume_with_self_verification_is_exact(tmp_path, tiny_config_path):
    def run(name, extra):
        assert main(["train", tiny_config_path, f"--out={tmp_path / name}", *SELF_VERIFY, *COMMON, *extra]) == 0

    run("straight", ["--run.steps=4", "--run.save_every=2"])
    run("stopped", ["--run.steps=2", "--run.save_every=2"])
    assert main(["train", "--resume", str(tmp_path / "stopped"), "--run.steps=4"]) == 0
    a = load_file(tmp_path / "straight" / "checkpoints" / "step-4" / "model.safetensors")
    b = load_file(tmp_path / "stopped" / "checkpoints" / "step-4" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    keys = ("reward/mean", "self_verify/accuracy", "self_verify/reward_mean", "self_verify/no_score_frac")
    ra, rb = _rows(tmp_path / "straight"), _rows(tmp_path / "stopped")
    assert [[r[k] for k in keys] for r in ra] == [[r[k] for k in keys] for r in rb]
