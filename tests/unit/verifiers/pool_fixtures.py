"""Verifiers used only by the pool's tests (tests/unit/verifiers/test_pool.py), loaded in the worker
processes by their import path (`tests.unit.verifiers.pool_fixtures:Name`): workers that spin in C,
crash, or start slowly."""
import os
import re
import time

from rlvr.verifiers.base import Verdict


class SpinInC:
    """Prints `spinning <worker pid>` and then never returns from the regex engine: nested
    quantifiers on a non-matching string backtrack 2^64 times, inside one C call that holds
    the GIL, so no signal handler and no other Python thread of the worker runs meanwhile."""

    def __call__(self, completion, reference, meta):
        print(f"spinning {os.getpid()}", flush=True)
        re.match(r"(a+)+$", "a" * 64 + "b")
        return Verdict(0.0, {})


class SandboxSpin:
    """Prints `sandboxing <worker pid>` and runs `while True: pass` in the code sandbox, so
    the worker has a sandbox child (the trainer's grandchild) for the test to find."""

    def __call__(self, completion, reference, meta):
        from rlvr.verifiers import get

        print(f"sandboxing {os.getpid()}", flush=True)
        return get("code", timeout_s=60)("while True: pass", {"tests": [{"stdin": "", "stdout": ""}]}, {})


class SlowStart:
    """A verifier whose `prepare()` takes `start_s` (like a slow import); 'crash' kills the
    worker at once (os._exit), anything else is answered after `answer_s` with reward 1.
    With `broken_after_crash` (a file path), a crash leaves that file behind and any worker
    started after it fails in `prepare()` (a replacement that cannot start)."""

    def __init__(self, start_s: float = 1.0, answer_s: float = 0.1, broken_after_crash: str = "") -> None:
        self.start_s, self.answer_s, self.flag = start_s, answer_s, broken_after_crash

    def prepare(self) -> None:
        time.sleep(self.start_s)
        if self.flag and os.path.exists(self.flag):
            raise RuntimeError("this worker cannot start (broken_after_crash)")

    def __call__(self, completion, reference, meta):
        if completion == "crash":
            if self.flag:
                open(self.flag, "w").close()
            os._exit(3)
        time.sleep(self.answer_s)
        return Verdict(1.0, {"pid": os.getpid()})
