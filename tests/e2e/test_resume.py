"""A run killed with SIGKILL and resumed ends with the same weights, bit for bit."""
import os
import signal
import subprocess
import time
from pathlib import Path

from safetensors.torch import load_file

from tests.conftest import rlvr_cmd

# The kill lands between checkpoints; a few more steps make that window wide enough.
ARGS = ["--run.progress=false", "--run.steps=24", "--run.save_every=4", "--eval.before=false",
        "--eval.after=false"]


def _weights(run: Path, step: int) -> dict:
    return load_file(run / "checkpoints" / f"step-{step}" / "model.safetensors")


def test_sigkill_then_resume_is_bit_identical(tmp_path, tiny_config_path):
    straight = tmp_path / "straight"
    proc = subprocess.run(rlvr_cmd() + ["train", tiny_config_path, "--out", str(straight)] + ARGS,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]

    killed = tmp_path / "killed"
    victim = subprocess.Popen(rlvr_cmd() + ["train", tiny_config_path, "--out", str(killed)] + ARGS,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 240
    while not (killed / "checkpoints" / "step-8").is_dir():
        assert victim.poll() is None, "the run ended before it could be killed"
        assert time.time() < deadline
        time.sleep(0.005)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL
    assert not (killed / "checkpoints" / "step-24").exists()

    proc = subprocess.run(rlvr_cmd() + ["train", "--resume", str(killed)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resuming" in proc.stdout
    a, b = _weights(straight, 24), _weights(killed, 24)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].dtype == b[name].dtype and a[name].equal(b[name]), name
    # the metrics read as one uninterrupted run
    steps = [line.split(",")[0] for line in (killed / "metrics.jsonl").read_text().splitlines()]
    assert len(steps) == len(set(steps)) == 24
