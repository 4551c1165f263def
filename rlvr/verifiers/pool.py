"""Verifier calls in worker processes, each under a hard wall-clock limit.

A verifier parses untrusted model output; a pathological answer (a tower of exponents, a
megabyte of braces) can make a parser spin inside C code where no signal reaches it. So
every call runs in a worker process, and a call past its limit costs the worker its life
(it is killed and replaced), the sample reward 0 and `info["error"] = "timeout"` — never
the run. Results come back in the order the tasks were given.

Two kinds of task: one completion (`Task`), answered by `verifier(completion, reference,
meta)`; or several (`BatchTask`, marked by `BATCH_TASK`), answered by `verifier.batch(...)`
— for verifiers that need a prompt's whole group (majority vote, pairwise judges) or that
score a chunk at once (a model). A batch gets `timeout_s` per completion, and its failure
costs each of its completions reward 0 with the error.

What the pool promises (tests/unit/verifiers/test_pool.py):
- a call's limit counts from when its worker begins it: the worker acknowledges each task
  ("started") and the clock starts then, so time queued or spent starting a replacement is
  never charged to a call, and a result that has arrived is never called a timeout;
- a crash or a hang costs that task's samples only: the worker is replaced without pausing
  the others, and the replacement takes tasks once it reports ready; a worker that dies
  while starting (its verifier cannot be imported) stops the run with a RuntimeError;
- workers die with the trainer, even one killed by SIGKILL: on Linux by
  `PR_SET_PDEATHSIG`; elsewhere by a watchdog thread, which cannot run while the worker is
  stuck in C code holding the GIL, so there such a worker ends only when that call does.
"""
from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection, wait
from typing import Any, NoReturn

from rlvr.verifiers.base import Verdict

STARTUP_TIMEOUT_S = 120.0
ACK_TIMEOUT_S = 30.0  # a worker acknowledges a task as soon as it reads it; one still silent
# this long (plus the task's budget) after the task was sent is stuck, and the task times out
WATCHDOG_INTERVAL_S = 1.0
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
STARTED, DONE = "started", "done"  # worker → pool: (STARTED, task id), (DONE, task id, result)

Spec = tuple[str, dict]  # (verifier name, options)
Task = tuple[int, str, Any, dict]  # (verifier index, completion, reference, meta)
BATCH_TASK = "batch"
BatchTask = tuple[str, int, list, list, list]  # (BATCH_TASK, verifier index, completions, references, metas)


def is_batch(task: tuple) -> bool:
    return len(task) == 5 and task[0] == BATCH_TASK


def _checked(verdict: Any) -> tuple[float, dict]:
    reward = float(verdict.reward)
    if not math.isfinite(reward):
        raise ValueError(f"verifier returned a non-finite reward {reward}")
    return reward, _safe_info(verdict.info)


MAX_INFO_CHARS = 2000  # per info value, as JSON; a verifier's explanation, not a payload


def _safe_info(info: Any) -> dict:
    """Info values that are plain JSON (nested dicts and lists of scalars included) cross the
    process boundary as they are, so they can be logged and read back; anything else, or
    anything too long, becomes a truncated repr."""
    if not isinstance(info, dict):
        return {"info": repr(info)[:500]}
    out = {}
    for k, v in info.items():
        try:
            plain = len(json.dumps(v, allow_nan=True)) <= MAX_INFO_CHARS
        except (TypeError, ValueError):
            plain = False
        out[str(k)] = v if plain else repr(v)[:500]
    return out


def _watch_parent(parent_pid: int, interval_s: float) -> None:
    """Ends this process once its parent is gone (it is then re-parented, so `getppid` changes).
    A Python thread: it cannot run while another thread holds the GIL inside C code."""
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval_s)
        os._exit(1)

    threading.Thread(target=watch, name="verifier-parent-watchdog", daemon=True).start()


def _die_with_parent(parent_pid: int) -> None:
    """Makes this worker end when the trainer does: a SIGKILLed trainer runs no cleanup, and a
    worker stuck in C would otherwise spin for ever (issue 9). prctl(2): the signal comes when
    the *thread* that started this process exits — see `VerifierPool._start_worker`."""
    if sys.platform.startswith("linux"):
        import ctypes

        c = ctypes.c_ulong
        prctl = ctypes.CDLL(None, use_errno=True).prctl
        if prctl(ctypes.c_int(_PR_SET_PDEATHSIG), c(signal.SIGKILL), c(0), c(0), c(0)) == 0:
            if os.getppid() != parent_pid:  # the trainer died before prctl: no signal will come
                os._exit(1)
            return
    _watch_parent(parent_pid, WATCHDOG_INTERVAL_S)


def _worker(conn: Connection, specs: list[Spec], parent_pid: int) -> None:
    _die_with_parent(parent_pid)  # first, before imports that may take seconds
    from rlvr.verifiers import get

    verifiers = [get(name, **options) for name, options in specs]
    for v in verifiers:  # import heavy parsers now, not inside the first timed call
        getattr(v, "prepare", lambda: None)()
    conn.send("ready")
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        task_id, task = msg[0], msg[1:]
        conn.send((STARTED, task_id))  # the pool starts this task's clock now
        try:
            if is_batch(task):
                _, index, completions, references, metas = task
                verdicts = list(verifiers[index].batch(completions, references, metas))
                if len(verdicts) != len(completions):
                    raise ValueError(f"batch returned {len(verdicts)} verdicts for {len(completions)} completions")
                out: Any = [_checked(v) for v in verdicts]
            else:
                index, completion, reference, meta = task
                out = _checked(verifiers[index](completion, reference, meta))
        except Exception as e:  # noqa: BLE001 — any failure costs this task's samples only
            out = {"error": f"{type(e).__name__}: {str(e)[:300]}"}
        conn.send((DONE, task_id, out))


class _Worker:
    """One worker process. Starting: `ready` False, `deadline` = the end of its start-up time.
    Idle: ready, no `task`. Busy: `task` set; `deadline` is a fallback until the worker
    acknowledges the task, then `budget` seconds from that acknowledgement."""

    def __init__(self, ctx: Any, specs: list[Spec]) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, specs, os.getpid()), daemon=True)
        self.proc.start()
        child.close()
        self.ready = False
        self.task: int | None = None
        self.deadline = time.monotonic() + STARTUP_TIMEOUT_S

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join(5)
        self.conn.close()


class VerifierPool:
    """`workers` processes that evaluate tasks for the verifiers named in `specs`: a `Task`
    `(verifier index, completion, reference, meta)` gets one Verdict within `timeout_s`
    seconds; a `BatchTask` gets a list of Verdicts within `timeout_s` per completion."""

    def __init__(self, specs: list[Spec], *, workers: int = 2, timeout_s: float = 5.0) -> None:
        if workers < 1 or not timeout_s > 0:
            raise ValueError(f"a verifier pool needs workers >= 1 and timeout_s > 0, got {workers} and {timeout_s}")
        self.specs = [(name, dict(options)) for name, options in specs]
        self.timeout_s = timeout_s
        self._ctx = mp.get_context("spawn")  # no fork: the parent holds torch's thread pools
        self._workers: list[_Worker] = []
        self._size = workers
        self._launcher: ThreadPoolExecutor | None = None
        self.timeouts = 0
        self.crashes = 0

    def _start_worker(self) -> _Worker:
        # PR_SET_PDEATHSIG kills a worker when the thread that started it exits, not the
        # process. The trainer runs the pool from its main thread, but a caller's short-lived
        # thread would take its workers with it (and a replacement could fall to a thread
        # other than the first). So every worker is started by this one thread of the pool's
        # own, which lives until `close()` or the process's end: workers die with the pool's
        # process, never with a caller's thread. Starting is quick (spawn: fork + exec).
        if self._launcher is None:
            self._launcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="verifier-pool-launcher")
        return self._launcher.submit(_Worker, self._ctx, self.specs).result()

    def _ensure_started(self) -> None:
        while len(self._workers) < self._size:  # start all at once, without waiting: imports overlap
            self._workers.append(self._start_worker())

    def _failed(self, task: tuple, info: dict) -> Verdict | list[Verdict]:
        return [Verdict(0.0, dict(info)) for _ in task[2]] if is_batch(task) else Verdict(0.0, info)

    def _budget(self, task: tuple) -> float:
        return self.timeout_s * max(1, len(task[2])) if is_batch(task) else self.timeout_s

    def run(self, tasks: list[Task | BatchTask]) -> list[Verdict | list[Verdict]]:
        """One result per task, in order: a Verdict for a `Task`, a list for a `BatchTask`."""
        self._ensure_started()
        results: list[Any] = [None] * len(tasks)
        pending = deque(range(len(tasks)))
        while pending or any(w.task is not None for w in self._workers):
            self._hand_out(tasks, pending)
            watched = [w for w in self._workers if w.task is not None or not w.ready]
            if watched:  # sleep until a message, a death or the nearest deadline
                wait([w.conn for w in watched], timeout=max(0.0, min(w.deadline for w in watched) - time.monotonic()))
            for i in range(len(self._workers)):  # every watched worker, not only those `wait` named
                if self._workers[i] in watched:
                    self._collect(i, tasks, results)
        return results  # type: ignore[return-value]

    def _hand_out(self, tasks: list, pending: deque) -> None:
        for i, w in enumerate(self._workers):
            if not (w.ready and w.task is None and pending):
                continue
            task_id = pending.popleft()
            try:
                w.conn.send((task_id, *tasks[task_id]))
            except (BrokenPipeError, OSError):  # the worker died while idle: replace it, retry
                self.crashes += 1
                pending.appendleft(task_id)
                self._replace(i)
                continue
            w.task, w.deadline = task_id, time.monotonic() + ACK_TIMEOUT_S + self._budget(tasks[task_id])

    def _collect(self, i: int, tasks: list, results: list) -> None:
        """Reads what worker `i` has sent; then a worker past its deadline, with nothing more
        to read, has timed out (a busy one) or failed to start (a starting one)."""
        w = self._workers[i]
        try:
            while (w.task is not None or not w.ready) and w.conn.poll():
                msg = w.conn.recv()
                if msg == "ready":
                    w.ready, w.deadline = True, math.inf
                elif msg[0] == STARTED:
                    assert msg[1] == w.task, (msg, w.task)
                    w.deadline = time.monotonic() + self._budget(tasks[w.task])
                else:
                    assert msg[0] == DONE and msg[1] == w.task, (msg, w.task)
                    results[w.task] = self._result(tasks[w.task], msg[2])
                    w.task, w.deadline = None, math.inf
        except (EOFError, OSError):
            if not w.ready:
                self._start_failed("a verifier worker failed to start (see its traceback above)")
            self.crashes += 1
            results[w.task] = self._failed(tasks[w.task], {"error": "verifier worker crashed"})
            self._replace(i)
            return
        if time.monotonic() < w.deadline or w.conn.poll():  # in time, or more to read next round
            return
        if not w.ready:
            self._start_failed(f"a verifier worker did not start within {STARTUP_TIMEOUT_S:g}s")
        self.timeouts += 1
        budget = self._budget(tasks[w.task])
        results[w.task] = self._failed(tasks[w.task], {
            "error": "timeout", "reason": f"verifier call exceeded {budget:g}s"})
        self._replace(i)

    def _result(self, task: tuple, out: Any) -> Verdict | list[Verdict]:
        if isinstance(out, dict):  # the verifier raised
            return self._failed(task, out)
        if is_batch(task):
            return [Verdict(r, info) for r, info in out]
        return Verdict(*out)

    def _start_failed(self, message: str) -> NoReturn:
        # a verifier that cannot be built fails the same way in every replacement: stop
        # rather than restart it for ever; the other workers go too, so that a caller who
        # catches this starts from a clean pool
        for w in self._workers:
            w.kill()
        self._workers = []
        raise RuntimeError(message)

    def _replace(self, i: int) -> None:
        """Kills worker `i` and starts another in its place, without waiting for it."""
        self._workers[i].kill()
        self._workers[i] = self._start_worker()

    def close(self) -> None:
        for w in self._workers:
            try:
                w.conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            w.proc.join(2)
            if w.proc.is_alive():
                w.proc.kill()
        self._workers = []
        if self._launcher is not None:
            self._launcher.shutdown()
            self._launcher = None

    def __enter__(self) -> "VerifierPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
