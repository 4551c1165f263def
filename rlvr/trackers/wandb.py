"""Weights & Biases (`run.trackers: [wandb]`).

wandb's own settings decide where the run goes: `WANDB_MODE=offline` writes it under
`<WANDB_DIR>/wandb/offline-run-*` for a later `wandb sync` (no account, no network),
`WANDB_MODE=disabled` turns it off, `WANDB_PROJECT` / `WANDB_ENTITY` / `WANDB_API_KEY` as
wandb documents them. Without `WANDB_DIR`, wandb's files go into the run folder. The project
is `run.project` when set (else `WANDB_PROJECT`, else "rlvr"), the run's name `run.name`.

The run id is kept in the run folder (`trackers.json`), so `rlvr train --resume` continues the
same wandb run (`resume="allow"`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from rlvr.trackers.base import completion_table, finite_numbers, read_state, write_state


class WandbTracker:
    requires: ClassVar[tuple[str, ...]] = ("wandb",)
    pip: ClassVar[str] = "pip install wandb"
    rewinds: ClassVar[bool] = False

    def __init__(self) -> None:
        self.run = None
        self.wandb = None

    def start(self, config: Any, run_dir: Path, resume: int | None) -> None:
        import wandb

        from rlvr.configtools import to_plain

        self.wandb = wandb
        state = read_state(run_dir, "wandb") if resume is not None else {}
        known = state.get("id")  # a resume continues the run where it was, whatever WANDB_PROJECT says now
        project = state.get("project") or config.run.project or os.environ.get("WANDB_PROJECT") or "rlvr"
        self.run = wandb.init(project=project, name=config.run.name, id=known, resume="allow",
                              dir=os.environ.get("WANDB_DIR") or str(run_dir),
                              config=None if known else to_plain(config))
        if known:  # a resume may change a setting (more steps): the run shows the config it ran with
            self.run.config.update(to_plain(config), allow_val_change=True)
        write_state(run_dir, "wandb", id=self.run.id, project=project)

    def log(self, metrics: dict[str, float], step: int) -> None:
        self.run.log(finite_numbers(metrics), step=step)

    def log_completions(self, rows: list[dict], step: int) -> None:
        columns, data = completion_table(rows, step)
        self.run.log({"completions": self.wandb.Table(columns=columns, data=data)}, step=step)

    def finish(self) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None
