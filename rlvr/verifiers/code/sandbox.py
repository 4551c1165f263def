"""Run untrusted Python in a confined child process: `run_python(source, stdin) -> RunResult`.

The child is `python -I -S -B -X utf8 _child.py` (isolated mode: no PYTHON* variables, no
user site; `-S`: no site-packages either, so programs see the standard library only) in a
new session (its own process group, killed as a whole), with a scrubbed environment and a
private temporary working folder that is deleted afterwards. `_child.py` confines itself
before the program runs (network namespace, rlimits, Landlock, capabilities, seccomp, a
PEP 578 audit hook) and reports which layers are in force; see docs/verifiers/code.md for
what is guaranteed where. This side enforces the wall clock and the output cap: it reads
stdout and stderr as they come and kills the group the moment either limit is crossed, so
a program printing gigabytes costs at most `max_output_bytes` of memory here.

No `preexec_fn`: the limits are set by the child itself, so `run_python` is safe to call
from several threads at once (Python documents `preexec_fn` as unsafe with threads).
"""
from __future__ import annotations

import ast
import json
import math
import os
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_child.py")
STARTUP_GRACE_S = 0.5
"""Added to the first deadline: interpreter start-up is not the program's time."""
BLOCKED_EXIT = 86  # _child.BLOCKED_EXIT


@dataclass(frozen=True)
class RunResult:
    status: str
    """ok | error | syntax_error | timeout | memory | output_limit | file_limit | blocked |
    killed | sandbox_error."""
    stdout: str
    stderr: str
    returncode: int | None
    """The child's exit status; negative: killed by that signal."""
    reason: str
    """Empty when `status` is ok, else why, e.g. "timeout", "blocked: socket", "nonzero_exit"."""
    duration_s: float = 0.0
    isolation: dict = field(default_factory=dict)
    """Layers in force in the child: netns ("netns", "userns+netns" or 0), tmpfs (1/0),
    rlimits (how many of the 6 were set), landlock (ABI version or 0), caps, seccomp, audit
    (1/0). Empty when the child did not start."""
    asserts: tuple[bool, ...] = ()
    """Asserts mode: one entry per top-level assert statement; an assert that did not run
    (the program failed first, time ran out) counts as failed."""


def count_asserts(tests: str) -> int:
    """Top-level `assert` statements of a test source; raises SyntaxError if it does not parse."""
    return sum(isinstance(n, ast.Assert) for n in ast.parse(tests).body)


def _env(work: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": work, "TMPDIR": work}


def _remove_tree(root: str) -> None:
    def retry(func, path, _exc):  # the program may have made a folder unwritable (chmod 000)
        try:
            os.chmod(os.path.dirname(path), stat.S_IRWXU)
            if os.path.isdir(path) and not os.path.islink(path):
                os.chmod(path, stat.S_IRWXU)
            func(path)
        except OSError:
            pass
    shutil.rmtree(root, onerror=retry)


_swept = False


def _sweep_stale() -> None:
    """Removes working folders left by processes that were killed mid-run (a verifier worker
    past the pool's time limit dies before its `finally`); once per process. A folder is
    named after the process that made it, and is stale when that process is gone."""
    global _swept
    if _swept:
        return
    _swept = True
    base = tempfile.gettempdir()
    try:
        names = os.listdir(base)
    except OSError:
        return
    for name in names:
        parts = name.split("-")
        if len(parts) < 4 or parts[:2] != ["rlvr", "code"] or not parts[2].isdigit():
            continue
        pid = int(parts[2])
        try:
            os.kill(pid, 0)
            continue  # alive (or a recycled pid: then the folder waits for a later sweep)
        except ProcessLookupError:
            _remove_tree(os.path.join(base, name))
        except PermissionError:
            continue


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _exited(proc: subprocess.Popen) -> bool:
    """Whether the child has exited, without reaping it: an unreaped leader keeps its
    process-group id reserved, so the `killpg` that follows cannot hit a recycled id.
    (Where `waitid` is missing, e.g. macOS, it is reaped.)"""
    if not hasattr(os, "waitid"):
        return proc.poll() is not None
    try:
        info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def run_python(source: str, stdin: str = "", *, timeout_s: float = 2.0, memory_mb: int = 512,
               max_output_bytes: int = 1 << 20, max_file_bytes: int = 10 << 20,
               max_disk_bytes: int = 64 << 20, asserts: str | None = None, audit_hook: bool = True,
               kernel_layers: bool = True, namespaces: bool = True, landlock: bool = True) -> RunResult:
    """Runs `source` with `stdin` in the sandbox.

    `timeout_s`: wall-clock (and CPU) limit of the program, plus `STARTUP_GRACE_S` for the
    interpreter to start; in asserts mode, each test statement gets `timeout_s` more.
    `memory_mb`: address-space limit (RLIMIT_AS). `max_output_bytes`: stdout + stderr
    together; past it the child is killed. `max_file_bytes`: largest file it may write;
    `max_disk_bytes`: all its files together (where the working folder can be a tmpfs).
    `asserts`: test source run after the program in the same namespace, one top-level
    statement at a time (stdin is then empty). `audit_hook`, `kernel_layers` (Landlock,
    capabilities, seccomp), `landlock` (Landlock alone), `namespaces`: switch layers off —
    for testing each layer alone, never in training.
    """
    if not sys.executable:
        raise RuntimeError("the code sandbox needs sys.executable to start a Python child")
    n_tests = len(ast.parse(asserts).body) if asserts is not None else 0
    n_asserts = count_asserts(asserts) if asserts is not None else 0
    budget = timeout_s * (1 + n_tests) + STARTUP_GRACE_S
    _sweep_stale()
    root = tempfile.mkdtemp(prefix=f"rlvr-code-{os.getpid()}-")
    read_fd = write_fd = -1
    try:
        work = os.path.join(root, "work")
        os.mkdir(work, 0o700)
        read_fd, write_fd = os.pipe()
        cfg = {"program": source, "asserts": asserts, "work": work, "result_fd": write_fd,
               "parent_pid": os.getpid(), "cpu_s": max(1, math.ceil(budget)),
               "memory_bytes": int(memory_mb) << 20, "max_file_bytes": int(max_file_bytes),
               "max_disk_bytes": int(max_disk_bytes), "audit": audit_hook,
               "kernel_layers": kernel_layers, "landlock": landlock, "namespaces": namespaces}
        cfg_path = os.path.join(root, "config.json")
        with open(cfg_path, "w", encoding="ascii") as f:
            json.dump(cfg, f)  # ensure_ascii: lone surrogates travel as \\ud800 escapes
        stdin_file = None
        if stdin:
            stdin_path = os.path.join(root, "stdin")
            with open(stdin_path, "wb") as f:
                f.write(stdin.encode("utf-8", "surrogatepass"))  # never raises
            stdin_file = open(stdin_path, "rb")
        start = time.monotonic()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-B", "-X", "utf8", CHILD, cfg_path],
                stdin=stdin_file or subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=work, env=_env(work), start_new_session=True, close_fds=True, pass_fds=(write_fd,))
        finally:
            if stdin_file:
                stdin_file.close()
            os.close(write_fd)
            write_fd = -1
        try:
            return _supervise(proc, read_fd, start=start, timeout_s=timeout_s, budget=budget,
                              max_output_bytes=max_output_bytes, n_asserts=n_asserts,
                              asserts_mode=asserts is not None)
        finally:
            if proc.returncode is None:
                _kill_group(proc.pid)
            proc.stdout.close()
            proc.stderr.close()
            if proc.returncode is None:
                proc.wait(5)
    finally:
        for fd in (read_fd, write_fd):
            if fd >= 0:
                os.close(fd)
        _remove_tree(root)


def _supervise(proc: subprocess.Popen, res_fd: int, *, start: float, timeout_s: float, budget: float,
               max_output_bytes: int, n_asserts: int, asserts_mode: bool) -> RunResult:
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    bufs = {out_fd: bytearray(), err_fd: bytearray(), res_fd: bytearray()}
    hard_deadline = start + budget
    deadline = min(hard_deadline, start + timeout_s + STARTUP_GRACE_S)
    lines: list[str] = []
    killed_for = ""
    sel = selectors.DefaultSelector()
    for fd in bufs:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    try:
        while sel.get_map() and not killed_for:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                killed_for = "timeout"
                break
            for key, _ in sel.select(remaining):
                try:
                    chunk = os.read(key.fd, 1 << 16)
                except BlockingIOError:
                    continue
                if not chunk:
                    sel.unregister(key.fd)
                    continue
                bufs[key.fd] += chunk
                if len(bufs[out_fd]) + len(bufs[err_fd]) > max_output_bytes or len(bufs[res_fd]) > max_output_bytes:
                    killed_for = "output_limit"
                    break
                if key.fd == res_fd:
                    *done, rest = bufs[res_fd].split(b"\n")
                    bufs[res_fd] = bytearray(rest)
                    for raw in done:
                        lines.append(raw.decode("utf-8", "replace"))
                        if lines[-1][:1] in ("I", "A", "S"):  # progress: the next step gets timeout_s
                            deadline = min(hard_deadline, time.monotonic() + timeout_s)
        while not killed_for and not _exited(proc):  # output closed, process not yet gone
            if time.monotonic() >= deadline:
                killed_for = "timeout"
                break
            time.sleep(0.002)
    finally:
        sel.close()
    _kill_group(proc.pid)
    try:
        returncode = proc.wait(5)
    except subprocess.TimeoutExpired:
        returncode = None
    duration = time.monotonic() - start
    stdout = bytes(bufs[out_fd][:max_output_bytes]).decode("utf-8", "replace")
    stderr = bytes(bufs[err_fd][:max_output_bytes]).decode("utf-8", "replace")
    status, reason = _classify(killed_for, returncode, lines, stderr, asserts_mode)
    isolation: dict = {}
    passed = [False] * n_asserts
    for line in lines:
        tag, _, rest = line.partition(" ")
        if tag == "I" and not isolation:
            for item in rest.split():
                k, _, v = item.partition("=")
                isolation[k] = int(v) if v.isdigit() else v
        elif tag == "A":
            parts = rest.split()
            if len(parts) >= 2 and parts[0].isdigit() and int(parts[0]) < n_asserts:
                passed[int(parts[0])] = parts[1] == "1"
    return RunResult(status, stdout, stderr, returncode, reason, duration, isolation, tuple(passed))


def _classify(killed_for: str, returncode: int | None, lines: list[str], stderr: str,
              asserts_mode: bool) -> tuple[str, str]:
    tags = {line[:1]: line[2:] for line in reversed(lines)}  # first occurrence of each tag wins
    if killed_for == "output_limit":
        return "output_limit", "output_limit"
    if "B" in tags:
        return "blocked", f"blocked: {tags['B']}"
    if killed_for == "timeout" or returncode == -signal.SIGXCPU:
        return "timeout", "timeout"
    if "I" not in tags:
        return "sandbox_error", "sandbox_error: " + (stderr.strip().splitlines() or ["no output"])[-1][:200]
    if "C" in tags:
        return "syntax_error", "syntax_error"
    if "MemoryError" in tags.get("E", "") or "MemoryError" in stderr[-2000:]:
        return "memory", "memory"
    if "File too large" in stderr[-2000:] or "No space left on device" in stderr[-2000:]:
        return "file_limit", "file_limit"
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = str(-returncode)
        return "killed", f"killed: {name}"
    if asserts_mode and "E" in tags:
        return "error", f"program_error: {tags['E']}"
    if returncode != 0:
        return "error", "nonzero_exit"
    if asserts_mode and "D" not in tags:
        return "error", "exit_before_tests"
    if asserts_mode and "S" in tags:  # a non-assert statement of the tests raised
        return "error", f"test_error: {tags['S']}"
    return "ok", ""


@lru_cache(maxsize=1)
def probe() -> dict:
    """The isolation layers this machine gives a sandboxed program (runs `pass` once)."""
    return dict(run_python("pass", timeout_s=5.0).isolation)
