"""Asynchronous steps through the real command: `rlvr train configs/tiny.yaml
--rollout.max_staleness=1`. Each step's rollout comes from the weights one update old (the
first from the initial ones), the trainer sees the staleness as a sampler/trainer mismatch that
the synchronous loop (fp32, the engine on the trainer's weights) never has, TIS weighs it, and
a run resumed from a checkpoint ends with the uninterrupted run's weights bit for bit."""
import json
import shutil
import subprocess

import pytest
from safetensors.torch import load_file

from tests.conftest import rlvr_cmd

pytestmark = pytest.mark.e2e

STEPS, PROMPTS, G = 4, 4, 8
# a random reward gives every group a spread, so every step trains and every weight push matters
ARGS = [f"--run.steps={STEPS}", "--run.save_every=2", "--run.keep_checkpoints=0", f"--run.log_samples={PROMPTS * G}",
        "--run.progress=false", "--eval.before=false", "--eval.after=false", "--reward=random",
        "--algo.correction=tis_token"]


def _train(config, out, *extra):
    proc = subprocess.run(rlvr_cmd() + ["train", config, "--out", str(out), *ARGS, *extra],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return out


def _metrics(out):
    return {r["step"]: r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines())}


def _samples(out):
    return [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_config_path):
    root = tmp_path_factory.mktemp("async")
    return (_train(tiny_config_path, root / "sync"),
            _train(tiny_config_path, root / "async", "--rollout.max_staleness=1"))


def test_each_rollout_comes_from_the_weights_one_update_old(runs):
    sync, stale = runs
    m = _metrics(stale)
    # rollout j from the weights after step max(0, j − 2): versions 0 0 1 2, staleness 0 1 1 1
    assert [m[s]["policy_version"] for s in range(1, STEPS + 1)] == [0, 0, 1, 2]
    assert [m[s]["staleness/mean"] for s in range(1, STEPS + 1)] == [0, 1, 1, 1]
    samples = _samples(stale)
    assert [s["policy_version"] for s in samples] == [v for v in (0, 0, 1, 2) for _ in range(PROMPTS * G)]
    assert {s["policy_version"] for s in _samples(sync)[PROMPTS * G * 2:PROMPTS * G * 3]} == {2}
    assert not any(k.startswith("staleness/") for k in _metrics(sync)[2])
    # step 1 samples from the initial weights in both runs, with the same draws
    assert [s["completion"] for s in samples[:PROMPTS * G]] == [s["completion"] for s in _samples(sync)[:PROMPTS * G]]


def test_staleness_shows_as_a_mismatch_that_tis_weighs(runs):
    sync, stale = runs
    ms, ma = _metrics(sync), _metrics(stale)
    # synchronous fp32: the engine samples with the trainer's own weights, so old and sampler
    # log-probs differ only by the rounding of a decode step against a whole-sequence pass
    # (measured about 2e-7 per token) and every TIS weight is 1 to that rounding
    for s in range(1, STEPS + 1):
        assert ms[s]["mismatch/logp_abs_diff"] < 1e-5 and abs(ms[s]["correction/weight_mean"] - 1) < 1e-5, s
    assert ma[1]["mismatch/logp_abs_diff"] < 1e-5  # the first rollout is fresh
    for s in range(2, STEPS + 1):  # the later ones were sampled one update (lr 3e-3) before they train
        assert ma[s]["mismatch/logp_abs_diff"] > 1e-3, s
        assert abs(ma[s]["correction/weight_mean"] - 1) > 1e-4 and ma[s]["mismatch/ratio_max"] > 1.001, s


def test_a_resumed_asynchronous_run_ends_with_the_same_weights(runs, tmp_path):
    _, stale = runs
    resumed = tmp_path / "resumed"
    shutil.copytree(stale, resumed)
    shutil.rmtree(resumed / "checkpoints" / f"step-{STEPS}")  # as if killed after step 2's checkpoint
    state = __import__("torch").load(resumed / "checkpoints" / "step-2" / "trainer_state.pt", weights_only=False)
    assert [s for s, _, _ in state["rollouts"]["ready"]] == [3, 4]  # generated (4 from step 2's weights), not trained
    proc = subprocess.run(rlvr_cmd() + ["train", "--resume", str(resumed)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a = load_file(stale / "checkpoints" / f"step-{STEPS}" / "model.safetensors")
    b = load_file(resumed / "checkpoints" / f"step-{STEPS}" / "model.safetensors")
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)
    assert _samples(resumed) == _samples(stale)


@pytest.mark.scale
def test_asynchronous_steps_on_ray_workers(tmp_path, tiny_config_path):
    pytest.importorskip("ray", reason="the Ray backend needs `pip install 'rlvr[ray]'`")
    import os

    from tests.conftest import ROOT

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    out = tmp_path / "ray"
    proc = subprocess.run(rlvr_cmd() + ["train", tiny_config_path, "--out", str(out), *ARGS, "--rollout.max_staleness=1",
                                        "--run.backend=ray", "--rollout.workers=2"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    m = _metrics(out)
    # the pool is called from the rollout thread, its weights pushed between generations
    assert [m[s]["policy_version"] for s in range(1, STEPS + 1)] == [0, 0, 1, 2]
    assert m[1]["mismatch/logp_abs_diff"] < 1e-5
    assert all(m[s]["mismatch/logp_abs_diff"] > 1e-3 for s in range(2, STEPS + 1))
