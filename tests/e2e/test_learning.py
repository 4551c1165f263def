"""The tiny model learns a toy verifiable task: its reward climbs within a few dozen steps."""
import json

from rlvr.config import load_config
from rlvr.train import train


def test_reward_climbs_on_the_toy_task(tmp_path, tiny_config_path):
    # Sums of 0 and 1 (answers 0, 1, 2), rewarded when the last number written is right.
    # The random model starts near 3% (it rarely writes a digit at all).
    cfg = load_config(tiny_config_path, ["--run.steps=40", "--run.save_every=0", "--run.progress=false",
                                         "--eval.before=false", "--eval.after=false",
                                         f"--run.out={tmp_path / 'run'}"])
    train(cfg)
    rows = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    rewards = [r["reward/mean"] for r in rows]
    assert len(rewards) == 40
    first, last = sum(rewards[:10]) / 10, sum(rewards[-10:]) / 10
    assert first < 0.15
    assert last > first + 0.12, (first, last)
