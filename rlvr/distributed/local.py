"""One process: the stand-in that makes the training loop read the same with one process or
N. Every method does exactly what the loop did before several processes existed, so a
one-process run stays bit-identical (tests/fixtures/equivalence.json)."""
from __future__ import annotations

from pathlib import Path

from rlvr.checkpoint import load_checkpoint, save_checkpoint
from rlvr.optimise import OneProcess as _Rows
from rlvr.runlog import RunLog


class OneProcess(_Rows):
    rank = 0
    world = 1
    is_main = True
    """The process that writes the run folder (logs, checkpoints, report)."""

    def check_config(self, cfg) -> None:
        """Every config runs in one process."""

    def on_main(self, decide):
        """`decide()`, run by the first process and its result (or error) given to all."""
        return decide()

    def run_log(self, run_dir: Path, **kw) -> RunLog:
        return RunLog(run_dir, **kw)

    def shard(self, model) -> None:
        """Nothing to shard: the model stays whole."""

    def broadcast(self, value):
        return value

    def barrier(self) -> None:
        pass

    def full_weights(self, model) -> dict:
        """The weights to check and save: the model's own parameters."""
        return dict(model.named_parameters())

    def optimizer_state(self, optimizer, model) -> dict:
        return optimizer.state_dict()

    def load_optimizer_state(self, optimizer, model, state: dict) -> None:
        optimizer.load_state_dict(state)

    def save_checkpoint(self, run_dir: Path, step: int, model, tokenizer, state: dict, weights: dict, *,
                        keep: int) -> None:
        save_checkpoint(run_dir, step, model, tokenizer, state, keep=keep)

    def load_checkpoint(self, path: Path, model) -> dict:
        return load_checkpoint(path, model)

    def close(self) -> None:
        pass


ONE = OneProcess()
