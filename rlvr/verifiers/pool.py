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
"""
from __future__ import annotations

import json
import math
import multiprocessing as mp
import time
from multiprocessing.connection import Connection, wait
from typing import Any

from rlvr.verifiers.base import Verdict

STARTUP_TIMEOUT_S = 120.0

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


def _worker(conn: Connection, specs: list[Spec]) -> None:
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
        try:
            if is_batch(task):
                _, index, completions, references, metas = task
                verdicts = list(verifiers[index].batch(completions, references, metas))
                if len(verdicts) != len(completions):
                    raise ValueError(f"batch returned {len(verdicts)} verdicts for {len(completions)} completions")
                result = (task_id, [_checked(v) for v in verdicts])
            else:
                index, completion, reference, meta = task
                result = (task_id, _checked(verifiers[index](completion, reference, meta)))
        except Exception as e:  # noqa: BLE001 — any failure costs this task's samples only
            result = (task_id, {"error": f"{type(e).__name__}: {str(e)[:300]}"})
        conn.send(result)


class _Worker:
    def __init__(self, ctx: Any, specs: list[Spec]) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker, args=(child, specs), daemon=True)
        self.proc.start()
        child.close()
        self.task: int | None = None
        self.deadline = math.inf
        self.ready = False

    def wait_ready(self) -> None:
        if self.ready:
            return
        try:
            ok = self.conn.poll(STARTUP_TIMEOUT_S) and self.conn.recv() == "ready"
        except (EOFError, OSError):
            ok = False
        if not ok:
            self.kill()
            raise RuntimeError("a verifier worker failed to start (see its traceback above)")
        self.ready = True

    def kill(self) -> None:
        self.proc.kill()
        self.proc.join(5)
        self.conn.close()


class VerifierPool:
    """`workers` processes that evaluate tasks for the verifiers named in `specs`: a `Task`
    `(verifier index, completion, reference, meta)` gets one Verdict within `timeout_s`
    seconds; a `BatchTask` gets a list of Verdicts within `timeout_s` per completion."""

    def __init__(self, specs: list[Spec], *, workers: int = 2, timeout_s: float = 5.0) -> None:
        self.specs = [(name, dict(options)) for name, options in specs]
        self.timeout_s = timeout_s
        self._ctx = mp.get_context("spawn")  # no fork: the parent holds torch's thread pools
        self._workers: list[_Worker] = []
        self._size = workers
        self.timeouts = 0
        self.crashes = 0

    def _ensure_started(self) -> None:
        while len(self._workers) < self._size:  # start all before waiting: imports overlap
            self._workers.append(_Worker(self._ctx, self.specs))
        for w in self._workers:
            w.wait_ready()

    def _failed(self, task: tuple, info: dict) -> Verdict | list[Verdict]:
        return [Verdict(0.0, dict(info)) for _ in task[2]] if is_batch(task) else Verdict(0.0, info)

    def _budget(self, task: tuple) -> float:
        return self.timeout_s * max(1, len(task[2])) if is_batch(task) else self.timeout_s

    def run(self, tasks: list[Task | BatchTask]) -> list[Verdict | list[Verdict]]:
        """One result per task, in order: a Verdict for a `Task`, a list for a `BatchTask`."""
        self._ensure_started()
        results: list[Any] = [None] * len(tasks)
        pending = list(range(len(tasks)))[::-1]
        while pending or any(w.task is not None for w in self._workers):
            for i, w in enumerate(self._workers):
                if w.task is None and pending:
                    task_id = pending.pop()
                    try:
                        w.conn.send((task_id, *tasks[task_id]))
                    except (BrokenPipeError, OSError):  # the worker died while idle: replace it, retry
                        self.crashes += 1
                        pending.append(task_id)
                        self._replace(i)
                        continue
                    w.task, w.deadline = task_id, time.monotonic() + self._budget(tasks[task_id])
            busy = [w for w in self._workers if w.task is not None]
            if not busy:
                continue
            timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            ready = set(wait([w.conn for w in busy], timeout=timeout))
            for i, w in enumerate(self._workers):
                if w.task is None:
                    continue
                if w.conn in ready:
                    try:
                        task_id, out = w.conn.recv()
                        if isinstance(out, dict):  # the verifier raised
                            results[task_id] = self._failed(tasks[task_id], out)
                        elif is_batch(tasks[task_id]):
                            results[task_id] = [Verdict(r, i) for r, i in out]
                        else:
                            results[task_id] = Verdict(*out)
                        w.task, w.deadline = None, math.inf
                        continue
                    except (EOFError, OSError):
                        self.crashes += 1
                        results[w.task] = self._failed(tasks[w.task], {"error": "verifier worker crashed"})
                elif time.monotonic() >= w.deadline:
                    self.timeouts += 1
                    budget = self._budget(tasks[w.task])
                    results[w.task] = self._failed(tasks[w.task], {
                        "error": "timeout", "reason": f"verifier call exceeded {budget:g}s"})
                else:
                    continue
                self._replace(i)
        return results  # type: ignore[return-value]

    def _replace(self, i: int) -> None:
        self._workers[i].kill()
        self._workers[i] = _Worker(self._ctx, self.specs)
        self._workers[i].wait_ready()

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

    def __enter__(self) -> "VerifierPool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
