"""TensorBoard: event files in `<run>/tensorboard/`, through torch's `SummaryWriter`.

A new run starts the folder afresh; a resumed one opens it with `purge_step` just after the
checkpoint, so TensorBoard hides what the interrupted run logged past it and the curves read
as one run, exactly as before the trackers existed. Sampled completions stay in
`samples.jsonl` (TensorBoard has no table view).
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, ClassVar

from rlvr.trackers.base import finite_numbers


class TensorBoardTracker:
    requires: ClassVar[tuple[str, ...]] = ("tensorboard",)
    pip: ClassVar[str] = "pip install tensorboard"
    rewinds: ClassVar[bool] = True

    def __init__(self) -> None:
        self.writer = None

    def start(self, config: Any, run_dir: Path, resume: int | None) -> None:
        from torch.utils.tensorboard import SummaryWriter

        tb_dir = Path(run_dir) / "tensorboard"
        if resume is None and tb_dir.is_dir():
            shutil.rmtree(tb_dir)
        self.writer = SummaryWriter(log_dir=str(tb_dir), purge_step=(resume or 0) + 1)

    def log(self, metrics: dict[str, float], step: int) -> None:
        for k, v in finite_numbers(metrics).items():
            self.writer.add_scalar(k, v, step)
        self.writer.flush()

    def log_completions(self, rows: list[dict], step: int) -> None:
        """Nothing: samples.jsonl holds them, and TensorBoard's event files stay as they were."""

    def finish(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
