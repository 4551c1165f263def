"""The procedural verifier tasks train end to end with the tiny model, through the real CLI
path: prompts from the task, rewards from its verifier in the worker pool, its metrics logged."""
import json

from rlvr.cli import main
from tests.equivalence import assert_unchanged


def _rows(out):
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if json.loads(x)["step"] > 0]


def test_ifeval_task_with_the_ifeval_verifier(tmp_path, tiny_config_path):
    out = tmp_path / "ifeval"
    assert main(["train", tiny_config_path, f"--out={out}", "--run.steps=2", "--data.train=ifeval",
                 "--data.eval=ifeval", "--reward.verifiers=[{name: ifeval, options: {mode: fraction}}]",
                 "--rollout.max_new_tokens=24", "--eval.size=4", "--run.progress=false"]) == 0
    assert_unchanged("verifier_tasks:test_ifeval_task_with_the_ifeval_verifier", out)
    rows = _rows(out)
    assert all("ifeval/instruction_level" in r and 0 <= r["ifeval/instruction_level"] <= 1 for r in rows)
    assert all(r["reward/errors"] == 0 for r in rows)
    per_id = [k for r in rows for k in r if k.startswith("ifeval/") and ":" in k]
    assert per_id, "per-constraint pass rates are logged"
    sample = json.loads((out / "samples.jsonl").read_text().splitlines()[0])
    assert "instruction_id_list" in sample["answer"] and "satisfied" in sample["verifiers"]["ifeval"]
    # the per-instruction results cross the worker pool as a dict, not as its repr
    assert isinstance(sample["verifiers"]["ifeval"]["constraints"], dict)


def test_code_task_with_the_sandboxed_code_verifier(tmp_path, tiny_config_path):
    out = tmp_path / "code"
    assert main(["train", tiny_config_path, f"--out={out}", "--run.steps=2", "--data.train=code",
                 "--data.eval=code", "--reward.verifiers=[{name: code, options: {timeout_s: 1.0}}]",
                 "--reward.timeout_s=20", "--rollout.max_new_tokens=16", "--eval.size=4",
                 "--run.progress=false"]) == 0
    assert_unchanged("verifier_tasks:test_code_task_with_the_sandboxed_code_verifier", out)
    rows = _rows(out)
    assert all(r["reward/errors"] == 0 and r["reward/timeouts"] == 0 for r in rows)
    sample = json.loads((out / "samples.jsonl").read_text().splitlines()[0])
    v = sample["verifiers"]["code"]
    # the random model writes no valid program: reward 0 with the reason, and the run goes on
    assert v["reward"] == 0 and "reason" in v and "tests" in sample["answer"]
