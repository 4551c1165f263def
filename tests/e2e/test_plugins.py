"""The recipe of docs/architecture.md end to end: a toy engine, sampler and method, each one
class in tests/plugins.py named by import path, train through `rlvr train` unchanged."""
import json

import pytest

from rlvr.cli import main

COMMON = ["--run.steps=2", "--eval.size=4", "--run.progress=false", "--run.threads=1"]


def _steps(out):
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if json.loads(x)["step"] > 0]


@pytest.mark.parametrize("override, key", [
    ("--rollout.sampler=tests.plugins:BestOfNSampler", "best_of_n/dropped"),
    ("--algo.method=tests.plugins:SignOnly", "sign_only/positive_frac"),
    ("--rollout.engine=tests.plugins:ConstantEngine", "reward/mean"),
])
def test_a_plugin_trains_through_the_cli(override, key, tmp_path, tiny_config_path):
    out = tmp_path / "run"
    assert main(["train", tiny_config_path, f"--out={out}", override, *COMMON]) == 0
    steps = _steps(out)
    assert len(steps) == 2 and all(key in r for r in steps)
    if "BestOfN" in override:  # 4 prompts × 16 sampled, 8 kept each
        assert all(r["best_of_n/dropped"] == 4 * 8 for r in steps)
    if "ConstantEngine" in override:  # every completion is "1" + end of turn
        samples = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
        assert {s["completion"] for s in samples} == {"1"}
