"""Experiment trackers: where a run's metrics and sampled completions go besides
`metrics.jsonl` and `samples.jsonl` (`run.trackers`, default `[tensorboard]`, `[]` for none).

`TRACKERS` maps a name to a lazy dotted name, like the engines: a tracker's module imports
its package only in `start`, and `check_trackers` finds the package without importing it,
so a configured tracker that is not installed is a config-time error naming the package and
the pip command, before any model loads. A plug-in is named `package.module:Class` and
follows `base.Tracker`. `Trackers` sends every row to each of them; docs/logging.md says what
goes where and each tool's offline mode.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from rlvr.plugins import lazy_entry
from rlvr.trackers.base import STATE_FILE, Tracker, completion_table, read_state, write_state

TRACKERS: dict[str, str] = {
    "tensorboard": "rlvr.trackers.tensorboard:TensorBoardTracker",
    "wandb": "rlvr.trackers.wandb:WandbTracker",
    "mlflow": "rlvr.trackers.mlflow:MlflowTracker",
    "trackio": "rlvr.trackers.trackio:TrackioTracker",
}


def tracker_class(name: str) -> type:
    """The class of a registered tracker, or of a `package.module:Class` plug-in."""
    return lazy_entry(TRACKERS, name, "tracker")


def missing_modules(cls: type) -> list[str]:
    """The modules a tracker needs that cannot be found (found, not imported: nothing loads)."""
    return [m for m in getattr(cls, "requires", ()) if importlib.util.find_spec(m) is None]


class Trackers:
    """The configured trackers of one run, fed the rows of metrics.jsonl and samples.jsonl.

    A resumed run re-runs the steps after its checkpoint, bit for bit. TensorBoard drops what
    it had past the checkpoint (`rewinds`); a tool that cannot is not sent those steps again,
    since it already holds them with the same values (the last step each was sent is kept in
    the run folder's trackers.json)."""

    def __init__(self, names: list[str] | tuple[str, ...]) -> None:
        self.names = list(names)
        self.trackers: list[Tracker] = [tracker_class(n)() for n in self.names]
        self.run_dir: Path | None = None
        self.sent: dict[str, dict[str, int]] = {}

    def start(self, config: Any, run_dir: Path, resume: int | None) -> None:
        self.run_dir = Path(run_dir)
        if resume is None:  # a new run in this folder: what an earlier one sent is not ours
            (self.run_dir / STATE_FILE).unlink(missing_ok=True)
        for name, tracker in zip(self.names, self.trackers):
            if not getattr(tracker, "rewinds", False):
                before = read_state(self.run_dir, name) if resume is not None else {}
                self.sent[name] = {k: before.get(k, -1) for k in ("metrics_through", "completions_through")}
            tracker.start(config, self.run_dir, resume)

    def _send(self, kind: str, step: int, call) -> None:
        """`call(tracker)` for each tracker to which `step` is news; then remember it was sent."""
        for name, tracker in zip(self.names, self.trackers):
            if name in self.sent and step <= self.sent[name][kind]:
                continue
            call(tracker)
            if name in self.sent:
                self.sent[name][kind] = step
                write_state(self.run_dir, name, **{kind: step})

    def log(self, metrics: dict[str, float], step: int) -> None:
        self._send("metrics_through", step, lambda t: t.log(metrics, step))

    def log_completions(self, rows: list[dict], step: int) -> None:
        if rows:
            self._send("completions_through", step, lambda t: t.log_completions(rows, step))

    def finish(self) -> None:
        """Finish every tracker, even when one of them fails (that error is raised after)."""
        error = None
        for tracker in self.trackers:
            try:
                tracker.finish()
            except Exception as e:  # noqa: BLE001 — re-raised below, once the others are closed
                error = error or e
        self.trackers, self.names = [], []
        if error is not None:
            raise error


__all__ = ["STATE_FILE", "TRACKERS", "Tracker", "Trackers", "completion_table", "missing_modules",
           "tracker_class"]
