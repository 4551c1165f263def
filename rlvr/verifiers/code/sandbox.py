"""Run untrusted Python in a confined child process: `run_python(source, stdin) -> RunResult`.

The child is `python -I -S -B -X utf8 _child.py` (isolated mode: no PYTHON* variables, no
user site; `-S`: no site-packages either, so programs see the standard library only) in a
new session (its own process group, killed as a whole), with a scrubbed environment and a
private temporary working folder that is deleted afterwards. `_child.py` confines itself
before the program runs (network namespace, rlimits, Landlock, capabilities, seccomp, a
PEP 578 audit hook) and reports which layers are in force; see docs/verifiers/code.md for
what is guaranteed where. In asserts mode the tests run in a second, equally confined child,
the judge (`_judge.py`), which reaches the program's names over a pair of pipes and alone
reports results, over a socket the program has no way to (docs: "The verdict channel").
This side enforces the wall clock and the output cap: it reads stdout and stderr as they
come and kills the groups the moment either limit is crossed, so a program printing
gigabytes costs at most `max_output_bytes` of memory here.

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
import socket
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_child.py")
JUDGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_judge.py")
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
    """The program's process's exit status; negative: killed by that signal."""
    reason: str
    """Empty when `status` is ok, else why, e.g. "timeout", "blocked: socket", "nonzero_exit"."""
    duration_s: float = 0.0
    isolation: dict = field(default_factory=dict)
    """Layers in force in the program's process (the judge has the same): netns ("netns",
    "userns+netns" or 0), tmpfs (1/0), rlimits (how many of the 6 were set), landlock (ABI
    version or 0), caps, seccomp, audit (1/0). Empty when the child did not start."""
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


def _start(script: str, args: list[str], *, stdin, stdout, work: str,
           pass_fds: tuple[int, ...]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-I", "-S", "-B", "-X", "utf8", script, *args], stdin=stdin, stdout=stdout,
        stderr=subprocess.PIPE, cwd=work, env=_env(work), start_new_session=True, close_fds=True,
        pass_fds=pass_fds)


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
    `asserts`: test source run after the program, one top-level statement at a time, by a
    second sandboxed process, the judge (`_judge.py`), which alone reports the results; the
    program's names are reached from the tests over a pipe, as plain data or handles (stdin
    is then empty). `audit_hook`, `kernel_layers` (Landlock, capabilities, seccomp),
    `landlock` (Landlock alone), `namespaces`: switch layers off — for testing each layer
    alone, never in training.
    """
    if not sys.executable:
        raise RuntimeError("the code sandbox needs sys.executable to start a Python child")
    n_tests = len(ast.parse(asserts).body) if asserts is not None else 0
    n_asserts = count_asserts(asserts) if asserts is not None else 0
    budget = timeout_s * (1 + n_tests) + STARTUP_GRACE_S
    _sweep_stale()
    root = tempfile.mkdtemp(prefix=f"rlvr-code-{os.getpid()}-")
    fds: list[int] = []  # every pipe end opened here; the children's ends are closed once they start
    procs: list[subprocess.Popen] = []

    def pipe() -> tuple[int, int]:
        pair = os.pipe()
        fds.extend(pair)
        return pair

    def close(*ends: int) -> None:
        for fd in ends:
            fds.remove(fd)
            os.close(fd)

    try:
        work = os.path.join(root, "work")
        os.mkdir(work, 0o700)
        status_r, status_w = pipe()
        common = {"parent_pid": os.getpid(), "cpu_s": max(1, math.ceil(budget)),
                  "memory_bytes": int(memory_mb) << 20, "max_file_bytes": int(max_file_bytes),
                  "max_disk_bytes": int(max_disk_bytes), "audit": audit_hook,
                  "kernel_layers": kernel_layers, "landlock": landlock, "namespaces": namespaces}
        cfg = {**common, "program": source, "work": work, "result_fd": status_w, "judge": None}
        start = time.monotonic()
        verdict_r = -1
        if asserts is not None:
            judge_work = os.path.join(root, "judge")
            os.mkdir(judge_work, 0o700)
            # a socket, not a pipe: open("/proc/<pid>/fd/N") re-opens a pipe in any mode (a
            # write end from our read end) for whoever passes the ptrace check, a socket never
            verdict_r, verdict_w = (sock.detach() for sock in socket.socketpair())
            fds += [verdict_r, verdict_w]
            from_program, to_judge = pipe()
            from_judge, to_program = pipe()
            cfg["judge"] = [from_judge, to_judge]
            judge_cfg = {**common, "tests": asserts, "work": judge_work, "result_fd": verdict_w,
                         "program_in": from_program, "program_out": to_program}
            with tempfile.TemporaryFile(dir=root) as f:  # O_TMPFILE on Linux: it never has a name
                f.write(json.dumps(judge_cfg).encode("ascii"))
                f.seek(0)
                procs.append(_start(JUDGE, [], stdin=f, stdout=subprocess.DEVNULL, work=judge_work,
                                    pass_fds=(verdict_w, from_program, to_program)))
            close(verdict_w, from_program, to_program)
        cfg_path = os.path.join(root, "config.json")
        with open(cfg_path, "w", encoding="ascii") as f:
            json.dump(cfg, f)  # ensure_ascii: lone surrogates travel as \\ud800 escapes
        stdin_file = None
        if stdin:
            stdin_path = os.path.join(root, "stdin")
            with open(stdin_path, "wb") as f:
                f.write(stdin.encode("utf-8", "surrogatepass"))  # never raises
            stdin_file = open(stdin_path, "rb")
        try:
            child_fds = (status_w, *(cfg["judge"] or ()))
            procs.insert(0, _start(CHILD, [cfg_path], stdin=stdin_file or subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, work=work, pass_fds=child_fds))
        finally:
            if stdin_file:
                stdin_file.close()
            close(*[fd for fd in fds if fd not in (status_r, verdict_r)])
        return _supervise(procs, status_r, verdict_r, start=start, timeout_s=timeout_s, budget=budget,
                          max_output_bytes=max_output_bytes, n_asserts=n_asserts)
    finally:
        for proc in procs:
            if proc.returncode is None:
                _kill_group(proc.pid)
            for stream in (proc.stdout, proc.stderr):
                if stream:
                    stream.close()
            if proc.returncode is None:
                proc.wait(5)
        for fd in fds:
            os.close(fd)
        _remove_tree(root)


JUDGE_STDERR_BYTES = 1 << 16
"""The judge's stderr kept for a sandbox_error's reason (the judge runs only the tests)."""
STATUS_LINES = 64
"""Lines kept from the program's status pipe: its own harness writes three at most."""


def _supervise(procs: list[subprocess.Popen], status_fd: int, verdict_fd: int, *, start: float,
               timeout_s: float, budget: float, max_output_bytes: int, n_asserts: int) -> RunResult:
    """Reads every stream as it comes, enforces the deadlines and the output cap, then kills
    both process groups; `procs` is [program] or [program, judge]."""
    proc, judge = procs[0], (procs[1] if len(procs) > 1 else None)
    streams = {proc.stdout.fileno(): "out", proc.stderr.fileno(): "err", status_fd: "status"}
    if judge is not None:
        streams.update({verdict_fd: "verdict", judge.stderr.fileno(): "judge_err"})
    bufs = {name: bytearray() for name in streams.values()}
    lines: dict[str, list[str]] = {"status": [], "verdict": []}
    hard_deadline = start + budget
    deadline = min(hard_deadline, start + timeout_s + STARTUP_GRACE_S)
    killed_for = ""
    sel = selectors.DefaultSelector()
    for fd in streams:
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
                name = streams[key.fd]
                if name == "judge_err":
                    bufs[name] += chunk[:max(0, JUDGE_STDERR_BYTES - len(bufs[name]))]
                    continue
                bufs[name] += chunk
                if len(bufs["out"]) + len(bufs["err"]) > max_output_bytes or len(bufs[name]) > max_output_bytes:
                    killed_for = "output_limit"
                    break
                if name in lines:
                    *done, rest = bufs[name].split(b"\n")
                    bufs[name] = bytearray(rest)
                    for raw in done:
                        line = raw.decode("utf-8", "replace")
                        if name == "status" and len(lines[name]) >= STATUS_LINES:
                            continue
                        lines[name].append(line)
                        # progress: the program's first line (it is confined; only its harness can
                        # have written it) and each statement the judge starts get timeout_s more
                        if (name, line[:1], len(lines[name])) == ("status", "I", 1) or \
                                (name, line[:1]) == ("verdict", "T"):
                            deadline = min(hard_deadline, time.monotonic() + timeout_s)
        while not killed_for and not all(_exited(p) for p in procs):  # output closed, not yet gone
            if time.monotonic() >= deadline:
                killed_for = "timeout"
                break
            time.sleep(0.002)
    finally:
        sel.close()
    codes = []
    for p in procs:
        _kill_group(p.pid)
        try:
            codes.append(p.wait(5))
        except subprocess.TimeoutExpired:
            codes.append(None)
    duration = time.monotonic() - start
    stdout = bytes(bufs["out"][:max_output_bytes]).decode("utf-8", "replace")
    stderr = bytes(bufs["err"][:max_output_bytes]).decode("utf-8", "replace")
    judged = None
    if judge is not None:
        judged = (lines["verdict"], codes[1], bytes(bufs["judge_err"]).decode("utf-8", "replace"))
    status, reason = _classify(killed_for, codes[0], lines["status"], stderr, judged)
    isolation: dict = {}
    first = lines["status"][0] if lines["status"] else ""
    if first.startswith("I "):
        for item in first[2:].split():
            k, _, v = item.partition("=")
            isolation[k] = int(v) if v.isdigit() else v
    passed: list[bool | None] = [None] * n_asserts
    for line in lines["verdict"]:  # the judge's lines only: the program has no way to this socket
        parts = line.split()
        if parts[:1] == ["D"]:
            break
        if len(parts) >= 3 and parts[0] == "A" and parts[1].isdigit() and int(parts[1]) < n_asserts:
            if passed[int(parts[1])] is None:  # the first word on an assert is the judge's last
                passed[int(parts[1])] = parts[2] == "1"
    return RunResult(status, stdout, stderr, codes[0], reason, duration, isolation,
                     tuple(p is True for p in passed))


def _last_line(text: str, default: str) -> str:
    return (text.strip().splitlines() or [default])[-1][:200]


def _tags(lines: list[str]) -> dict[str, str]:
    return {line[:1]: line[2:] for line in reversed(lines)}  # first occurrence of each tag wins


def _classify(killed_for: str, returncode: int | None, status_lines: list[str], stderr: str,
              judged: tuple[list[str], int | None, str] | None) -> tuple[str, str]:
    """(status, reason). `status_lines`: the program's harness (I, B, C, E); `judged`: in
    asserts mode, the judge's lines, exit status and stderr."""
    tags = _tags(status_lines)
    verdict, judge_code, judge_err = judged if judged is not None else ([], 0, "")
    judge = _tags(verdict)
    if killed_for == "output_limit":
        return "output_limit", "output_limit"
    if "B" in tags:
        return "blocked", f"blocked: {tags['B']}"
    if killed_for == "timeout" or -signal.SIGXCPU in (returncode, judge_code):
        return "timeout", "timeout"
    if "I" not in tags:
        return "sandbox_error", "sandbox_error: " + _last_line(stderr, "no output")
    if judged is not None and "I" not in judge:
        return "sandbox_error", "sandbox_error: judge: " + _last_line(judge_err, "no output")
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
    if judged is not None and "E" in tags:
        return "error", f"program_error: {tags['E']}"
    if returncode != 0:
        return "error", "nonzero_exit"
    if judged is None:
        return "ok", ""
    if "N" in judge:
        return "error", "exit_before_tests"
    if "B" in judge:
        return "error", f"test_error: blocked: {judge['B']}"
    if "D" not in judge:  # the judge stopped half-way: our machinery, not the program
        return "sandbox_error", "sandbox_error: judge: " + _last_line(judge_err, "no verdict")
    if "S" in judge:  # a non-assert statement of the tests raised
        return "error", f"test_error: {judge['S']}"
    return "ok", ""


@lru_cache(maxsize=1)
def probe() -> dict:
    """The isolation layers this machine gives a sandboxed program (runs `pass` once)."""
    return dict(run_python("pass", timeout_s=5.0).isolation)
