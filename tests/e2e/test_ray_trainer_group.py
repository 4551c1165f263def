"""`rlvr train configs/tiny.yaml --nproc 2 --run.backend=ray --rollout.workers=2` through the
real command: two training processes as Ray actors (FSDP2 over gloo) and two rollout workers
driven by rank 0. Against the one-process run with the same two workers, every step samples
the same completions (seeded per prompt by the pool, from weights equal up to float order) and
logs the same metrics up to the order of the float additions of the two processes' gradients; a
run stopped after a checkpoint and resumed with `--resume` equals the uninterrupted one bit for
bit; a rank's error stops the run naming it. Skipped where ray is not installed."""
import json
import os
import subprocess

import pytest
from safetensors.torch import load_file

from rlvr.checkpoint import verify_checkpoint
from tests.conftest import ROOT, rlvr_cmd
from tests.equivalence import VOLATILE

pytest.importorskip("ray", reason="the Ray backend needs `pip install 'rlvr[ray]'`")
pytestmark = [pytest.mark.e2e, pytest.mark.scale]

PROMPTS, G = 4, 8  # configs/tiny.yaml: 4 prompts × 8 completions a step
# one thread in every trainer (as a Ray actor of one CPU has), so that 1 and 2 processes score
# alike; the evaluation before training runs the pool's greedy path; no evaluation after it, whose
# row would differ between a 2-step run and the 4-step run it is resumed into
ARGS = ["--run.progress=false", "--eval.after=false", "--run.trackers=[]", "--run.save_every=2",
        "--run.threads=1", f"--run.log_samples={PROMPTS * G}"]
RAY = ["--run.backend=ray", "--rollout.workers=2"]


def _rlvr(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run(rlvr_cmd() + ["train", *args], capture_output=True, text=True, timeout=600, env=env)
    if ok:
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc


def _steps(run) -> list[dict]:
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if not k.startswith(VOLATILE)} for r in rows]


def _samples(run) -> list[dict]:
    return [json.loads(x) for x in (run / "samples.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_config_path):
    root = tmp_path_factory.mktemp("ray_group")
    out = {k: root / k for k in ("one", "two", "half")}
    _rlvr(tiny_config_path, "--out", str(out["one"]), "--run.steps=4", *ARGS, *RAY)
    out["stdout_two"] = _rlvr(tiny_config_path, "--nproc", "2", "--out", str(out["two"]), "--run.steps=4", *ARGS,
                              *RAY).stdout
    _rlvr(tiny_config_path, "--nproc=2", "--out", str(out["half"]), "--run.steps=2", *ARGS, *RAY)
    out["stdout_resume"] = _rlvr("--resume", str(out["half"]), "--nproc", "2", "--run.steps=4").stdout
    return out


def test_two_ray_trainers_train_what_one_process_trains(runs):
    one, two = runs["one"], runs["two"]
    assert "starting 2 training processes as Ray actors" in runs["stdout_two"]
    assert verify_checkpoint(two / "checkpoints" / "step-4") is None
    # rank 0's pool sampled them, and rank 0 alone wrote them: every completion of every step
    assert _samples(two) == _samples(one)
    assert len(_samples(two)) == 4 * PROMPTS * G
    a, b = _steps(one), _steps(two)
    assert [r["step"] for r in b] == [0, 1, 2, 3, 4] and [r.keys() for r in a] == [r.keys() for r in b]
    for r1, r2 in zip(a, b):
        for key, value in r1.items():  # the losses and gradient norms up to the order of float additions
            assert r2[key] == pytest.approx(value, rel=1e-5, abs=1e-6), (r1["step"], key)


def test_a_resumed_ray_group_run_equals_the_uninterrupted_one(runs):
    two, half = runs["two"], runs["half"]
    assert "resuming" in runs["stdout_resume"]
    assert _steps(half) == _steps(two)
    assert _samples(half) == _samples(two)
    a, b = load_file(two / "checkpoints" / "step-4" / "model.safetensors"), \
        load_file(half / "checkpoints" / "step-4" / "model.safetensors")
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].equal(b[name]), name


def test_a_failing_rank_stops_the_run_naming_it(runs, tiny_config_path):
    # the folder of a finished run, without --resume: every rank raises the first's RunExists
    proc = _rlvr(tiny_config_path, "--nproc", "2", "--out", str(runs["two"]), *RAY, ok=False)
    assert proc.returncode != 0
    assert "training process" in proc.stderr and "of 2 failed: RunExists" in proc.stderr, proc.stderr[-3000:]
