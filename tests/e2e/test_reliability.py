"""Whole runs through the CLI against issue 9's probe: damaged checkpoints and logs, two runs
in one folder, a full disk, non-finite numbers, prompts too long for the context, and the
late tracebacks that become one-line errors. Each test names the defect it guards against."""
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from rlvr.cli import main
from tests.conftest import rlvr_cmd

QUICK = ["--run.progress=false", "--run.steps=10", "--run.save_every=5", "--eval.before=false",
         "--eval.after=false"]


def _weights(run: Path, step: int) -> dict:
    return load_file(run / "checkpoints" / f"step-{step}" / "model.safetensors")


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)


def _one_line_error(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("rlvr: error: "), err[-2000:]
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(scope="module")
def straight(tmp_path_factory, tiny_config_path):
    """An uninterrupted 10-step tiny run, checkpoints at 5 and 10: the reference for exact resumes."""
    out = tmp_path_factory.mktemp("straight") / "run"
    assert main(["train", tiny_config_path, "--out", str(out), *QUICK]) == 0
    return out


def test_damaged_checkpoint_and_cut_logs_resume_exactly(straight, tmp_path, capsys):
    """Items 2 and 4: a flipped byte in step-10's weights (a file that still loads) was
    resumed from silently; a truncated one crashed resume with a library traceback although
    step-5 was intact; a samples.jsonl cut mid-UTF-8 character raised UnicodeDecodeError."""
    run = tmp_path / "run"
    shutil.copytree(straight, run)
    (run / ".lock").unlink(missing_ok=True)
    weights = run / "checkpoints" / "step-10" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0xFF  # a bit of the last tensor: safetensors still loads it
    weights.write_bytes(bytes(data))
    with open(run / "samples.jsonl", "ab") as fh:
        fh.write('{"step": 11, "completion": "caf'.encode() + "é".encode()[:1])
    with open(run / "metrics.jsonl", "ab") as fh:
        fh.write(b'{"step": 11, "reward/me')
    capsys.readouterr()
    assert main(["eval", "--model", str(weights.parent), "--size", "2"]) == 2  # before the model loads
    assert "step-10 is damaged: model.safetensors does not match" in _one_line_error(capsys.readouterr().err)
    assert main(["train", "--resume", str(run)]) == 0
    out = capsys.readouterr().out
    assert "step-10 is damaged: model.safetensors does not match its SHA-256" in out
    assert "falling back to step-5" in out and "resuming" in out
    assert _same(_weights(run, 10), _weights(straight, 10))  # steps 6–10 redone, bit for bit
    assert [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()] == list(
        range(1, 11))
    samples = [json.loads(line)["step"] for line in (run / "samples.jsonl").read_text().splitlines()]
    assert sorted(set(samples)) == list(range(1, 11))
    assert any(p.name.startswith("step-10.damaged-") for p in (run / "checkpoints").iterdir())


def test_second_run_into_a_held_folder_is_refused_and_a_killed_one_resumes_at_once(tmp_path, tiny_config_path):
    """Item 3: two runs into the same --out both exited 0 and mixed checkpoints and metrics."""
    run = tmp_path / "run"
    first = subprocess.Popen(rlvr_cmd() + ["train", tiny_config_path, "--out", str(run), "--run.progress=false",
                                           "--run.steps=500", "--run.save_every=2", "--eval.before=false"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not (run / "checkpoints" / "step-2").is_dir():
        assert first.poll() is None and time.time() < deadline, "the first run ended early"
        time.sleep(0.02)
    second = subprocess.run(rlvr_cmd() + ["train", tiny_config_path, "--out", str(run), "--run.steps=2"],
                            capture_output=True, text=True, timeout=120)
    assert second.returncode == 2
    assert f"in use by another run (pid {first.pid})" in _one_line_error(second.stderr)
    os.kill(first.pid, signal.SIGKILL)  # the kernel drops the lock with the process
    first.wait()
    first.stderr.close()
    newest = max(int(p.name.split("-")[1]) for p in (run / "checkpoints").glob("step-*"))
    resumed = subprocess.run(rlvr_cmd() + ["train", "--resume", str(run), f"--run.steps={newest + 1}"],
                             capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert (run / "checkpoints" / f"step-{newest + 1}").is_dir()


def test_default_run_folder_passes_over_a_held_one(tmp_path, monkeypatch, tiny_config_path):
    from rlvr.config import load_config
    from rlvr.runfiles import RunLock
    from rlvr.train import claim_run_dir

    monkeypatch.chdir(tmp_path)
    cfg = load_config(tiny_config_path, ["--run.name=demo"])
    (tmp_path / "runs" / "demo").mkdir(parents=True)
    with RunLock(tmp_path / "runs" / "demo"):
        path, lock = claim_run_dir(cfg)
        assert str(path) == "runs/demo-2"
        lock.release()


def _can_mount_tmpfs(where: Path) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(where)],
                          capture_output=True).returncode == 0


def test_disk_full_names_the_newest_good_checkpoint_and_resume_is_exact(straight, tmp_path, tiny_config_path):
    """Item 5: a full disk during a checkpoint left older checkpoints intact (kept so), but the
    error was a bare 'No space left on device'. A real 8 MiB tmpfs fills up after step-5."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if not _can_mount_tmpfs(disk):
        pytest.skip("needs root and tmpfs to make a small disk")
    try:
        run = disk / "run"
        proc = subprocess.Popen(rlvr_cmd() + ["train", tiny_config_path, "--out", str(run), *QUICK],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while not (run / "checkpoints" / "step-5").is_dir():
            assert proc.poll() is None and time.time() < deadline
            time.sleep(0.005)
        with open(disk / "filler", "wb") as fh:  # take every free byte
            try:
                while True:
                    fh.write(b"\0" * (1 << 16))
                    fh.flush()
            except OSError:
                pass
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 2, err[-2000:]
        line = _one_line_error(err)
        assert "the disk is full" in line and "the newest good checkpoint is step-5" in line
        assert not (run / "checkpoints" / "step-10").exists()
        (disk / "filler").unlink()
        resumed = subprocess.run(rlvr_cmd() + ["train", "--resume", str(run)], capture_output=True, text=True,
                                 timeout=180)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        assert _same(_weights(run, 10), _weights(straight, 10))
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)


def test_non_finite_loss_stops_before_the_optimizer_step(tmp_path, monkeypatch, capsys, tiny_config_path):
    """Item 8: a NaN loss trained to all-NaN weights and saved them with exit 0."""
    import torch

    import rlvr.train

    real_update = rlvr.train.update_policy

    class NaNLoss:  # the policy loss turned NaN, as after an overflow
        def __init__(self, term):
            self.term, self.needs, self.linear_in_advantage = term, term.needs, term.linear_in_advantage

        def __call__(self, x):
            loss, metrics = self.term(x)
            return loss * float("nan"), metrics

    def update(model, train, *, step, **kwargs):
        if step == 3:
            train.terms[0] = NaNLoss(train.terms[0])
        return real_update(model, train, step=step, **kwargs)

    monkeypatch.setattr(rlvr.train, "update_policy", update)
    run = tmp_path / "run"
    capsys.readouterr()
    code = main(["train", tiny_config_path, "--out", str(run), *QUICK, "--run.save_every=1",
                 "--reward.verifiers=[{name: random, options: {p: 0.5}}]"])  # every step has a reward spread
    assert code == 2
    line = _one_line_error(capsys.readouterr().err)
    assert "step 3: the policy loss is nan" in line and "newest good checkpoint is step-2" in line
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-1", "step-2"]
    assert all(torch.isfinite(t).all() for t in _weights(run, 2).values())


def test_a_verifier_failing_on_every_completion_warns_loudly(tmp_path, capsys, tiny_config_path):
    """Item 9: rewards that were all errors looked like a hard task."""
    code = main(["train", tiny_config_path, "--out", str(tmp_path / "run"), *QUICK, "--run.steps=2",
                 "--reward.verifiers=[{name: 'tests.e2e.reliability_fixtures:AlwaysRaises'}]"])
    assert code == 0
    err = capsys.readouterr().err
    assert err.count("WARNING") == 1 and "step 1: 100% of the completions got no reward" in err


def test_prompts_longer_than_the_context_fail_before_the_first_step(tmp_path, capsys, tiny_config_path):
    """Item 10: a 3,000-character prompt with the 1,024-position model trained silently, and a
    1 MB row did not finish step 1 in 5 minutes (8.5 GB RSS)."""
    data = tmp_path / "d.jsonl"
    rows = [{"prompt": "1+0", "answer": "1"}, {"prompt": "9" * 3000, "answer": "1"}, {"prompt": "1+1", "answer": "2"}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    capsys.readouterr()
    run = tmp_path / "run"
    assert main(["train", tiny_config_path, "--out", str(run), *QUICK, f"--data.train={data}"]) == 2
    line = _one_line_error(capsys.readouterr().err)
    assert f"{data}:2: the prompt has" in line and "model's context of 1024 positions" in line
    assert not (run / "metrics.jsonl").exists()  # refused before step 1

    huge = tmp_path / "huge.jsonl"
    huge.write_text(json.dumps({"prompt": "7" * 1_000_000, "answer": "1"}) + "\n")
    t = time.time()
    assert main(["train", tiny_config_path, "--out", str(tmp_path / "huge"), *QUICK, f"--data.train={huge}"]) == 2
    assert f"{huge}:1: the prompt has" in _one_line_error(capsys.readouterr().err)
    assert time.time() - t < 60

    run = tmp_path / "left"
    assert main(["train", tiny_config_path, "--out", str(run), *QUICK, "--run.steps=2", f"--data.train={data}",
                 "--data.truncate=left", "--rollout.prompts_per_step=3"]) == 0
    steps = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["data/truncated_prompts"] for m in steps] == [1.0, 1.0]  # the long row, once in each step's 3


@pytest.mark.parametrize("argv, must_mention", [
    (["config", "--optim.lr=-1"], "'optim.lr'; must be greater than 0"),
    (["config", "--optim.betas=[2,3]"], "'optim.betas'; each must be in [0, 1)"),
    (["config", "--run.threads=-1"], "'run.threads'; must be at least 0"),
    (["eval", "--model", "/nonexistent", "--k", "0"], "'--k'; every k must be at least 1"),  # was ZeroDivisionError
    (["eval", "--model", "/nonexistent", "--k", "4", "--n", "2"], "'--n' (2) must be at least the largest k"),
])
def test_late_tracebacks_are_one_line_errors(argv, must_mention, capsys):
    """Item 11: each raised a traceback (or trained) instead of a one-line error."""
    assert main(argv) == 2
    assert must_mention in _one_line_error(capsys.readouterr().err)


def test_bad_files_are_one_line_errors(tmp_path, capsys, tiny_config_path):
    """Item 11: --out at a file, empty / duplicated / folder configs, a resume whose saved
    config was emptied by a kill (it silently ran the defaults: SmolLM2, 100 steps), bad rows."""
    afile = tmp_path / "afile"
    afile.write_text("x")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    twice = tmp_path / "twice.yaml"
    twice.write_text(Path(tiny_config_path).read_text() + "\nrun:\n  steps: 3\n")
    killed = tmp_path / "killed"
    killed.mkdir()
    (killed / "config.yaml").write_text("")
    surrogate = tmp_path / "s.jsonl"
    surrogate.write_text('{"prompt": "1+0", "answer": "1"}\n{"prompt": "\\ud800", "answer": "1"}\n')
    empty_chat = tmp_path / "c.jsonl"
    empty_chat.write_text('{"prompt": [], "answer": "1"}\n')
    cases = [
        (["train", tiny_config_path, "--out", str(afile)], f"the run folder {afile} is a file"),
        (["train", str(empty)], f"{empty} is empty"),
        (["train", str(twice)], "key 'run' appears twice"),
        (["train", str(tmp_path)], f"{tmp_path} is a folder"),
        (["train", "--resume", str(killed)], f"{killed / 'config.yaml'} is empty"),
        (["train", tiny_config_path, "--out", str(tmp_path / "r1"), f"--data.train={surrogate}"],
         f"{surrogate}:2: field 'prompt' holds a lone UTF-16 surrogate"),
        (["train", tiny_config_path, "--out", str(tmp_path / "r2"), f"--data.train={empty_chat}"],
         f"{empty_chat}:1: field 'prompt' is an empty list"),
    ]
    for argv, must_mention in cases:
        assert main(argv) == 2, argv
        assert must_mention in _one_line_error(capsys.readouterr().err), argv
    assert not (killed / "checkpoints").exists()  # nothing ran with the defaults
