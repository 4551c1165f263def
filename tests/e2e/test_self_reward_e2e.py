"""Label-free and partial-credit rewards end to end with the tiny model, through the real CLI:
majority-vote self-reward (TTRL/SRT) with its label diagnostics, frozen labels voted by
`rlvr label` and then trained on, and the multipart task with the `partial` verifier."""
import json

from tests.conftest import CONFIGS
from rlvr.cli import main
from rlvr.config import load_config
from tests.equivalence import assert_unchanged

COMMON = ["--run.steps=2", "--eval.size=4", "--run.progress=false"]
MAJORITY = "{name: majority, options: {answer_pattern: '(\\d+)'%s}}"


def _rows(out):
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if json.loads(x)["step"] > 0]


def _samples(out):
    return [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]


def test_majority_self_reward_logs_label_diagnostics(tmp_path, tiny_config_path):
    out = tmp_path / "ttrl"
    # math (weight 0) measures accuracy; the reward is the vote alone
    verifiers = f"[{MAJORITY % ''}, {{name: math, weight: 0, options: {{answer_pattern: '(\\d+)'}}}}]"
    assert main(["train", tiny_config_path, f"--out={out}", f"--reward.verifiers={verifiers}",
                 "--reward.accuracy_from=math", *COMMON]) == 0
    assert_unchanged("self_reward_e2e:test_majority_self_reward_logs_label_diagnostics", out)
    rows = _rows(out)
    assert len(rows) == 2
    for r in rows:
        assert r["reward/errors"] == 0
        for key in ("majority/label_accuracy", "majority/reward_accuracy", "majority/majority_ratio",
                    "majority/labelled_frac"):
            assert 0.0 <= r[key] <= 1.0, key
        assert r["reward/majority"] <= r["majority/labelled_frac"]  # no label, no reward
    for s in _samples(out):
        v = s["verifiers"]["majority"]
        assert v["label_source"] == "vote" and v["reward"] in (0.0, 1.0)
        assert "label_correct" in v or v["label"] is None


def test_frozen_labels_from_rlvr_label_are_trained_on(tmp_path, tiny_config_path, capsys):
    labels = tmp_path / "labels.jsonl"
    # the label command draws the prompts a 2-step run of this config would draw (2 × 4), each once
    assert main(["label", tiny_config_path, "--out", str(labels), "--samples", "4", "--run.steps=2",
                 f"--reward.verifiers=[{MAJORITY % ''}]"]) == 0
    printed = capsys.readouterr().out
    assert "label accuracy" in printed and "wrote" in printed
    rows = [json.loads(x) for x in labels.read_text().splitlines()]
    assert rows and len({r["prompt"] for r in rows}) == len(rows)
    assert all(r["samples"] == 4 and 0 <= r["majority_ratio"] <= 1 for r in rows)
    assert all(("label_correct" in r) == (r["label"] is not None) for r in rows)
    frozen = {r["prompt"]: r["label"] for r in rows if r["label"] is not None}
    assert frozen, "the tiny model writes digits, so most prompts get a label"

    out = tmp_path / "srt"
    options = f", labels: '{labels}'"
    assert main(["train", tiny_config_path, f"--out={out}", f"--reward.verifiers=[{MAJORITY % options}]",
                 "--run.log_samples=8", *COMMON]) == 0
    assert_unchanged("self_reward_e2e:test_frozen_labels_from_rlvr_label_are_trained_on", out)
    seen = [s for s in _samples(out) if s["verifiers"]["majority"]["label_source"] == "frozen"]
    assert seen, "the run's prompts are those the labels were voted for"
    assert all(s["verifiers"]["majority"]["label"] == frozen[s["prompt"]] for s in seen)
    assert all(0 <= r["majority/labelled_frac"] <= 1 for r in _rows(out))


def test_multipart_task_with_partial_credit(tmp_path, tiny_config_path):
    out = tmp_path / "multipart"
    assert main(["train", tiny_config_path, f"--out={out}", "--data.train=multipart", "--data.eval=multipart",
                 "--reward.verifiers=[{name: partial}]", "--rollout.max_new_tokens=12", *COMMON]) == 0
    assert_unchanged("self_reward_e2e:test_multipart_task_with_partial_credit", out)
    for r in _rows(out):
        assert r["reward/errors"] == 0
        assert 0 <= r["partial/all_correct_frac"] <= 1 and 0 <= r["partial/part_accuracy"] <= 1
    s = _samples(out)[0]
    assert isinstance(s["answer"], list) and 2 <= len(s["answer"]) <= 3
    parts = s["verifiers"]["partial"]["parts"]
    assert isinstance(parts, list) and len(parts) == len(s["answer"])


def test_ttrl_preset_uses_no_labels_for_the_reward():
    cfg = load_config(str(CONFIGS / "ttrl.yaml"))
    names = [(v.name, v.weight) for v in cfg.reward.verifiers]
    assert names == [("majority", 1.0), ("math", 0.0)] and cfg.reward.accuracy_from == "math"
