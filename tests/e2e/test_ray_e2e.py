"""`rlvr train configs/tiny.yaml --run.backend=ray --rollout.workers=2` through the real
command, on a local Ray of two CPU workers — and the same run with one worker process
SIGKILLed in the middle of step 3's generation: the step's batch is complete, and every step
samples, scores and trains exactly what the run without the kill did. Skipped where ray is
not installed (`pip install 'rlvr[ray]'`; `make test` installs it)."""
import json
import os
import subprocess

import pytest

from tests.conftest import ROOT, rlvr_cmd
from tests.equivalence import VOLATILE

pytest.importorskip("ray", reason="the Ray backend needs `pip install 'rlvr[ray]'`")
pytestmark = [pytest.mark.e2e, pytest.mark.scale]

STEPS, PROMPTS, G = 6, 4, 8  # configs/tiny.yaml: 4 prompts × 8 completions a step
COMMON = [f"--run.steps={STEPS}", f"--run.log_samples={PROMPTS * G}", "--run.progress=false",
          "--run.backend=ray", "--rollout.workers=2"]


def _train(tiny_config_path, out, *extra, env=None):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           **(env or {})}  # the Ray workers import rlvr (and the test engine) as the driver does
    proc = subprocess.run(rlvr_cmd() + ["train", tiny_config_path, "--out", str(out), *COMMON, *extra],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


def _steps(out):
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if not k.startswith(VOLATILE)} for r in rows]


def _samples(out):
    return [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def calm_run(tmp_path_factory, tiny_config_path):
    out = tmp_path_factory.mktemp("ray") / "calm"
    return out, _train(tiny_config_path, out)


def test_the_tiny_preset_trains_on_two_ray_workers(calm_run):
    out, stdout = calm_run
    assert "held-out greedy accuracy after" in stdout
    assert [r["step"] for r in _steps(out)] == list(range(STEPS + 1))
    samples = _samples(out)
    assert len(samples) == STEPS * PROMPTS * G  # every completion of every step, once
    for group in range(STEPS * PROMPTS):  # prompt-major: G completions of one prompt after another
        assert len({s["prompt"] for s in samples[group * G:(group + 1) * G]}) == 1
    assert (out / "checkpoints" / f"step-{STEPS}" / "trainer_state.pt").is_file()


def test_a_worker_killed_mid_step_changes_nothing(calm_run, tmp_path, tiny_config_path):
    calm, _ = calm_run
    kill = tmp_path / "kill"
    kill.mkdir()
    (kill / "armed").touch()
    # per worker: one greedy call for its half of the evaluation before training, then one call
    # per prompt (2 a step): call 6 is the first prompt of step 3, so a worker dies halfway
    # through its shard
    out = tmp_path / "killed"
    stdout = _train(tiny_config_path, out, "--rollout.engine=tests.ray_plugins:KilledOnceEngine",
                    env={"RLVR_TEST_KILL_DIR": str(kill), "RLVR_TEST_KILL_AT": "6"})
    assert (kill / "killed").is_file(), "no worker was killed: the test tested nothing"
    assert "rollout worker" in stdout and "died" in stdout and "sampling its 2 prompts again" in stdout
    assert _samples(out) == _samples(calm)  # the same prompts, completions, rewards, advantages
    assert _steps(out) == _steps(calm)  # the same losses, rewards, gradient norms, evaluations
    assert json.loads((out / "eval.json").read_text()) == json.loads((calm / "eval.json").read_text())
