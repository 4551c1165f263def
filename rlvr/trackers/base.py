"""The tracker protocol, and what every tracker shares: the completions table and the
per-run state kept in the run folder for a resume.

A tracker receives what `metrics.jsonl` and `samples.jsonl` receive, at the same steps:

- `start(config, run_dir, resume)` once, before the first row: `config` is the resolved
  `Config` (logged as hyper-parameters); `resume` is the step of the checkpoint the run
  continues from, or None for a new run (continue the same tracker run where the tool can);
- `log(metrics, step)` for each row of `metrics.jsonl` (step 0: the evaluation before
  training; a step's row carries its held-out evaluation, the one after training included);
- `log_completions(rows, step)` for each step's rows of `samples.jsonl`;
- `finish()` once, at the end of the run.

Class attributes declare what the tracker needs, so a missing package is a config-time
error (`requires`: the modules it imports, `pip`: the command that installs them) and whether
it can take back what it was sent after a resumed checkpoint (`rewinds`).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from rlvr.runfiles import atomic_write_text

STATE_FILE = "trackers.json"
"""In the run folder: each tracker's run id and the last step it was sent (for a resume)."""


@runtime_checkable
class Tracker(Protocol):
    requires: ClassVar[tuple[str, ...]]
    """The modules `start` and the logging calls import (found at config time, imported only then)."""
    pip: ClassVar[str]
    """The command that installs it, quoted in the config error when it is missing."""
    rewinds: ClassVar[bool]
    """True when the tool drops what it was sent after the step being resumed (TensorBoard's
    purge_step); otherwise the steps re-run after a resume are not sent twice."""

    def start(self, config: Any, run_dir: Path, resume: int | None) -> None: ...

    def log(self, metrics: dict[str, float], step: int) -> None: ...

    def log_completions(self, rows: list[dict], step: int) -> None: ...

    def finish(self) -> None: ...


def finite_numbers(metrics: dict[str, Any]) -> dict[str, float]:
    """The values a tracker can plot: numbers that are finite. metrics.jsonl keeps the rest
    (a NaN is written there as null)."""
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, (int, float)) and math.isfinite(v)}


def completion_table(rows: list[dict], step: int) -> tuple[list[str], list[list]]:
    """(columns, data) of a step's sampled completions, like TRL's `log_completions`: step,
    prompt, completion, reference answer, reward, advantage, then each verifier's reward."""
    verifiers: list[str] = []
    for row in rows:
        verifiers += [name for name in row.get("verifiers", {}) if name not in verifiers]
    columns = ["step", "prompt", "completion", "answer", "reward", "advantage"] + verifiers
    data = []
    for row in rows:
        own = row.get("verifiers", {})
        data.append([step, _text(row.get("prompt")), row.get("completion", ""), _text(row.get("answer")),
                     row.get("reward"), row.get("advantage")]
                    + [own[name].get("reward") if name in own else None for name in verifiers])
    return columns, data


def _text(value: Any) -> str:
    """Prompts may be chat messages and answers any JSON value: a table cell holds text."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def flat_config(config: Any) -> dict[str, Any]:
    """The resolved config as `section.key: value` hyper-parameters (lists and mappings below
    a key as JSON text), for the trackers whose parameters are flat."""
    from rlvr.configtools import to_plain

    out: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, (list, dict)):
            out[prefix] = json.dumps(value, ensure_ascii=False)
        else:
            out[prefix] = value

    walk("", to_plain(config))
    return out


def read_state(run_dir: Path, tracker: str) -> dict:
    """What `tracker` stored for this run folder ({} when nothing)."""
    path = Path(run_dir) / STATE_FILE
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8")).get(tracker, {})


def write_state(run_dir: Path, tracker: str, **values: Any) -> None:
    """Merge `values` into `tracker`'s entry (atomically: a kill leaves the old file)."""
    path = Path(run_dir) / STATE_FILE
    data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    data.setdefault(tracker, {}).update(values)
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=True))
