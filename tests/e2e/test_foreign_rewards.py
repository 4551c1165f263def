"""Issue 11, point 1, as a user coming from TRL and verl tries it: their reward files, unchanged,
next to a TRL-style dataset (`prompt` as chat messages, `solution`), named in
`reward.verifiers` by relative path, trained with `rlvr train` on the tiny model."""
import json
import shutil
from pathlib import Path

import pytest

from rlvr.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rewards"
ROWS = [("What is 1+0?", "1"), ("What is 0+0?", "0"), ("What is 1+1?", "2"), ("What is 0+1?", "1"),
        ("Name a colour.", "n/a"), ("What is 1+1+0?", "2")]
ACCURACY = "trl:my_rewards.py:accuracy_reward"
FORMAT = "trl:my_rewards.py:format_reward_func"
IDS = "trl:my_rewards.py:what_trl_passes"
VERL = "verl:gsm8k_reward.py"


def test_trl_and_verl_reward_files_train_unchanged(tmp_path, monkeypatch, tiny_config_path):
    shutil.copy(FIXTURES / "trl_rewards.py", tmp_path / "my_rewards.py")
    shutil.copy(FIXTURES / "verl_gsm8k.py", tmp_path / "gsm8k_reward.py")
    with open(tmp_path / "data.jsonl", "w") as f:
        for i, (question, solution) in enumerate(ROWS):
            f.write(json.dumps({"prompt": [{"role": "user", "content": question}], "solution": solution,
                                "data_source": "openai/gsm8k", "extra_info": {"index": i}}) + "\n")
    monkeypatch.chdir(tmp_path)  # the user's working directory: the paths above are relative to it
    verifiers = (f'[{{name: "{ACCURACY}"}}, {{name: "{FORMAT}", weight: 0.1}}, {{name: "{VERL}", weight: 0.5}}, '
                 f'{{name: "{IDS}", weight: 0.0}}]')
    out = tmp_path / "run"
    assert main(["train", tiny_config_path, f"--out={out}", "--run.steps=2", "--data.train=data.jsonl",
                 "--data.eval=data.jsonl", "--data.answer_field=solution", f"--reward.verifiers={verifiers}",
                 "--reward.workers=2", "--eval.size=4", "--run.progress=false", "--run.threads=1"]) == 0
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if r["step"] > 0]
    assert len(steps) == 2
    for r in steps:
        assert r["reward/errors"] == 0 and r["reward/timeouts"] == 0, r
        assert 0 <= r[f"reward/{VERL}"] <= 1 and 0 <= r[f"reward/{FORMAT}"] <= 1
        assert 0 <= r[f"reward/{ACCURACY}/none_frac"] < 1
        # completion_ids reach the TRL function: its reward, len(completion_ids), is the mean length
        assert r[f"reward/{IDS}"] == pytest.approx(r["length/mean"])
        assert r[f"reward/{IDS}/group_size"] == 8  # one call per prompt group (log_metric)
    # the row whose solution is not a number was drawn (the first epoch covers every row): None
    assert sum(r[f"reward/{ACCURACY}/none_frac"] for r in steps) > 0
    samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert samples and all(set(s["verifiers"]) == {ACCURACY, FORMAT, VERL, IDS} for s in samples)
    assert all(isinstance(s["verifiers"][VERL]["reward"], float) for s in samples)
