"""The verifier pool's process promises: workers die with the trainer, time limits count from
the worker's start of a task, a crash or a failed start is reported as such (issue 9)."""
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rlvr.verifiers.pool import VerifierPool

ROOT = str(Path(__file__).resolve().parents[3])
SLOW = "tests.unit.verifiers.pool_fixtures:SlowStart"
LINUX = sys.platform.startswith("linux")

# The trainer, reduced to its pool: one worker, one task that never ends by itself.
TRAINER = (
    "import sys\n"
    "from rlvr.verifiers.pool import VerifierPool\n"
    "VerifierPool([(sys.argv[1], {})], workers=1, timeout_s=600).run([(0, 'x', None, {})])\n"
)


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat's fields after the command name (state, ppid, ...); None when gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def _alive(pid: int) -> bool:
    if not LINUX:
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False
    # a zombie counts as dead: it no longer runs, and in a container the new parent (PID 1)
    # may never reap it
    fields = _stat(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def _children(pid: int) -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and (_stat(int(p)) or ["", ""])[1] == str(pid)]


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def _within(seconds: float, condition) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def _printed_pid(path: Path, word: str) -> int | None:
    for line in path.read_text().splitlines():
        if line.startswith(word + " "):
            return int(line.split()[1])
    return None


def _kill_trainer_while(verifier: str, word: str, tmp_path: Path, check) -> None:
    """Starts TRAINER with `verifier`, waits until its worker prints `word <pid>`, SIGKILLs the
    trainer and runs `check(worker pid)`. Whatever survives is killed afterwards, so a failing
    run leaves no process spinning."""
    out = tmp_path / "trainer.out"
    env = {**os.environ, "PYTHONPATH": ROOT}
    with open(out, "w") as f:
        trainer = subprocess.Popen([sys.executable, "-c", TRAINER, verifier], cwd=ROOT, env=env,
                                   stdout=f, stderr=subprocess.STDOUT)
    survivors: list[int] = []
    try:
        assert _within(60, lambda: _printed_pid(out, word) or trainer.poll() is not None)
        worker = _printed_pid(out, word)
        assert worker, out.read_text()
        survivors.append(worker)
        check(worker, trainer, survivors)
    finally:
        trainer.kill()
        trainer.wait()
        for pid in survivors:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not LINUX, reason="PR_SET_PDEATHSIG is Linux-only; elsewhere a watchdog that C code can block")
def test_workers_die_with_a_killed_trainer_even_while_spinning_in_c(tmp_path):
    """Bug (issue 9 item 12): a trainer killed by SIGKILL left its verifier workers running;
    one stuck in a regex catastrophe (C code holding the GIL) spun at full CPU for ever."""
    def check(worker, trainer, _):
        time.sleep(0.3)  # well inside re.match by now
        assert _alive(worker)
        trainer.kill()
        trainer.wait()
        assert _within(5, lambda: not _alive(worker)), "the worker outlived the trainer"

    _kill_trainer_while("tests.unit.verifiers.pool_fixtures:SpinInC", "spinning", tmp_path, check)


@pytest.mark.skipif(not LINUX, reason="PR_SET_PDEATHSIG is Linux-only")
def test_code_sandbox_grandchildren_die_with_a_killed_trainer(tmp_path):
    """Bug (issue 9 item 12): the sandbox child of an orphaned worker (a `while True: pass`
    program under a 60 s limit) outlived the trainer with it. It has its own PDEATHSIG,
    relative to the worker thread that started it, so it must go when the worker goes."""
    def check(worker, trainer, survivors):
        assert _within(30, lambda: _children(worker)), "the sandbox child never started"
        survivors.extend(_children(worker))
        assert any("_child.py" in _cmdline(p) for p in survivors[1:]), [_cmdline(p) for p in survivors]
        trainer.kill()
        trainer.wait()
        assert _within(5, lambda: not any(_alive(p) for p in survivors)), "the worker or its sandbox child lived on"

    _kill_trainer_while("tests.unit.verifiers.pool_fixtures:SandboxSpin", "sandboxing", tmp_path, check)


def test_watchdog_ends_a_process_whose_parent_is_gone(tmp_path):
    """The non-Linux fallback (a watchdog thread polling getppid), run here on any system:
    a process whose parent is SIGKILLed exits within a few poll intervals."""
    child = (
        "import os, sys, time\n"
        "from rlvr.verifiers.pool import _watch_parent\n"
        "_watch_parent(int(sys.argv[1]), 0.05)\n"
        "print('watching', os.getpid(), flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = (
        "import os, subprocess, sys, time\n"
        f"subprocess.Popen([sys.executable, '-c', {child!r}, str(os.getpid())])\n"
        "time.sleep(60)\n"
    )
    out = tmp_path / "parent.out"
    with open(out, "w") as f:
        proc = subprocess.Popen([sys.executable, "-c", parent], cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT},
                                stdout=f, stderr=subprocess.STDOUT)
    pid = None
    try:
        assert _within(30, lambda: _printed_pid(out, "watching")), out.read_text()
        pid = _printed_pid(out, "watching")
        proc.kill()
        proc.wait()
        assert _within(5, lambda: not _alive(pid)), "the watchdog did not end its process"
    finally:
        proc.kill()
        proc.wait()
        if pid and _alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_a_worker_whose_trainer_died_before_it_armed_exits_at_once():
    """The race of PR_SET_PDEATHSIG: a trainer that dies before the worker calls prctl sends
    no signal, so the worker compares its parent with the trainer's pid and exits itself."""
    code = ("import time\n"
            "from rlvr.verifiers.pool import _die_with_parent\n"
            "_die_with_parent(-1)\n"  # no parent has pid -1: as if the trainer were already gone
            "time.sleep(5)\n"
            "print('survived')\n")
    t = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT},
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and "survived" not in done.stdout, done.stderr
    assert time.monotonic() - t < 4


def test_a_fast_result_is_not_a_timeout_while_a_crashed_worker_is_replaced():
    """Bug (issue 9 item 13): replacing a crashed worker blocked the loop until the new worker
    was ready (1 s of `prepare()` here), and a 0.1 s answer of the other worker that arrived
    meanwhile was declared a timeout, its 0.5 s deadline (counted from sending) having passed."""
    with VerifierPool([(SLOW, {})], workers=2, timeout_s=0.5) as pool:
        out = pool.run([(0, "crash", None, {})] + [(0, f"fast {i}", None, {}) for i in range(4)])
        assert out[0].reward == 0.0 and out[0].info["error"] == "verifier worker crashed"
        assert [v.info.get("error") for v in out[1:]] == [None] * 4 and [v.reward for v in out[1:]] == [1.0] * 4
        assert pool.timeouts == 0 and pool.crashes == 1
        # the replacement served nothing yet (the other worker did all), but it serves now
        again = pool.run([(0, f"fast {i}", None, {}) for i in range(6)])
        assert [v.reward for v in again] == [1.0] * 6 and pool.timeouts == 0


def test_a_slow_answer_is_still_a_timeout():
    with VerifierPool([(SLOW, {"start_s": 0.0, "answer_s": 3.0})], workers=1, timeout_s=0.5) as pool:
        t = time.monotonic()
        out = pool.run([(0, "slow", None, {})])
        assert out[0].info["error"] == "timeout" and pool.timeouts == 1
        assert time.monotonic() - t < 2.5  # 0.5 s after the worker began, not after its answer


def test_a_worker_that_cannot_start_raises():
    t = time.monotonic()
    with VerifierPool([("tests.unit.verifiers.pool_fixtures:NoSuchVerifier", {})], workers=2, timeout_s=1.0) as pool:
        with pytest.raises(RuntimeError, match="failed to start"):
            pool.run([(0, "x", None, {})])
    assert time.monotonic() - t < 30


def test_a_replacement_that_cannot_start_raises(tmp_path):
    """A crash, then a replacement that dies while starting: the run must raise the start
    error, not wait for a worker that will never be ready."""
    spec = (SLOW, {"start_s": 0.0, "answer_s": 0.0, "broken_after_crash": str(tmp_path / "broken")})
    with VerifierPool([spec], workers=1, timeout_s=1.0) as pool:
        with pytest.raises(RuntimeError, match="failed to start"):
            pool.run([(0, "crash", None, {}), (0, "fine", None, {})])
        assert pool.crashes == 1


def test_workers_outlive_the_thread_that_first_ran_the_pool():
    """PDEATHSIG fires when the *thread* that started a worker exits, not the process: workers
    started by whichever thread calls `run()` would die when a short-lived caller thread ends
    (and the next run would pay a crash and a restart). The pool starts them from its own thread."""
    with VerifierPool([(SLOW, {"start_s": 0.0, "answer_s": 0.0})], workers=1, timeout_s=5.0) as pool:
        t = threading.Thread(target=pool.run, args=([(0, "a", None, {})],))
        t.start()
        t.join()
        worker = pool._workers[0].proc
        worker.join(0.5)  # time for a signal to arrive
        assert worker.is_alive()
        assert [v.reward for v in pool.run([(0, "b", None, {}), (0, "c", None, {})])] == [1.0, 1.0]
        assert pool._workers[0].proc is worker and pool.crashes == 0 and pool.timeouts == 0
