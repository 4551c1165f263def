"""Trackio (`run.trackers: [trackio]`), Hugging Face's local-first tracker.

Local by default: trackio writes its SQLite database under `TRACKIO_DIR` (its default:
`~/.cache/huggingface/trackio`) and `trackio show` opens the dashboard on it; nothing leaves
the machine unless `TRACKIO_SPACE_ID` names a Space to log to, as trackio documents. The
project is `run.project` when set, else "rlvr"; the trackio run is named after the run
folder plus a short random tag (trackio keys runs by name within a project), kept in
`trackers.json`, so `rlvr train --resume` continues the same trackio run (`resume="allow"`).
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any, ClassVar

from rlvr.trackers.base import completion_table, finite_numbers, read_state, write_state


class TrackioTracker:
    requires: ClassVar[tuple[str, ...]] = ("trackio",)
    pip: ClassVar[str] = "pip install trackio"
    rewinds: ClassVar[bool] = False

    def __init__(self) -> None:
        self.run = None
        self.trackio = None

    def start(self, config: Any, run_dir: Path, resume: int | None) -> None:
        import trackio

        from rlvr.configtools import to_plain

        self.trackio = trackio
        known = read_state(run_dir, "trackio") if resume is not None else {}
        project = known.get("project") or config.run.project or "rlvr"
        name = known.get("name") or f"{Path(run_dir).resolve().name}-{uuid.uuid4().hex[:6]}"
        self.run = trackio.init(project=project, name=name, config=to_plain(config), resume="allow")
        write_state(run_dir, "trackio", project=project, name=name)

    def log(self, metrics: dict[str, float], step: int) -> None:
        self.trackio.log(finite_numbers(metrics), step=step)

    def log_completions(self, rows: list[dict], step: int) -> None:
        columns, data = completion_table(rows, step)
        self.trackio.log({"completions": self.trackio.Table(columns=columns, data=data)}, step=step)

    def finish(self) -> None:
        if self.run is not None:
            self.trackio.finish()
            self.run = None
