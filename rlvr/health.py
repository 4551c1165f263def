"""Loud, once-per-run warnings for a run that is running but cannot learn (issue 9 item 9).

Config checks refuse what is impossible before the run starts (a group of one with a
group-relative advantage, a zero time limit, NaN settings). Some failures only show in the
data: a verifier that fails on nearly every completion (a missing dependency in the worker,
a time limit too short for the machine) gives rewards of 0 that look like a hard task, and
a batch whose every advantage is 0 trains nothing. `RunHealth.check` watches each step's
metrics for these and warns once each, on stderr, naming the step and what to look at.
"""
from __future__ import annotations

import sys

FAILED_FRAC = 0.9
"""Warn when at least this share of a step's completions got no reward from some verifier."""
ZERO_ADVANTAGE_STEPS = 3
"""Warn when this many steps in a row had an advantage of exactly 0 for every completion."""


class RunHealth:
    def __init__(self, *, failed_frac: float = FAILED_FRAC, zero_steps: int = ZERO_ADVANTAGE_STEPS,
                 stream=None) -> None:
        self.failed_frac, self.zero_steps = failed_frac, zero_steps
        self.stream = stream
        self.zero_run = 0
        self.warned: set[str] = set()

    def _warn(self, kind: str, message: str) -> None:
        if kind in self.warned:
            return
        self.warned.add(kind)
        out = self.stream or sys.stderr
        print(f"\n{'!' * 78}\nrlvr: WARNING: {message}\n(warned once per run)\n{'!' * 78}", file=out, flush=True)

    def check(self, step: int, metrics: dict[str, float], all_zero_advantages: bool | None) -> None:
        """`all_zero_advantages`: None when the step trained nothing (no batch)."""
        failed = metrics.get("reward/failed_frac", 0.0)
        if failed >= self.failed_frac:
            self._warn("failed", f"step {step}: {failed:.0%} of the completions got no reward from a verifier "
                       f"({metrics.get('reward/timeouts', 0):.0f} verifier calls timed out, "
                       f"{metrics.get('reward/errors', 0):.0f} failed in all). The run learns nothing from "
                       "them: see the `error` in samples.jsonl's verifier info, and reward.timeout_s")
        if all_zero_advantages is None:
            return
        self.zero_run = self.zero_run + 1 if all_zero_advantages else 0
        if self.zero_run >= self.zero_steps:
            self._warn("zero", f"steps {step - self.zero_run + 1}–{step}: every advantage was 0, so nothing was "
                       "learned. Each group's rewards were all equal: the task is too hard or too easy for the "
                       "model, or the reward does not vary (see reward/mean and accuracy); rollout.group_size, "
                       "rollout.dynamic_sampling or another verifier may help")
