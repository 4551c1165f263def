"""The run folder: which one a run writes into, created and locked for it.

Without `run.out`, a run goes to `runs/<run.name>`, then `runs/<name>-2`, `-3`... when that one
holds checkpoints or another live run holds it, so running the same preset twice never
collides; with `run.out`, either is an error (issue 9 item 3).
"""
from __future__ import annotations

from pathlib import Path

from rlvr.checkpoint import checkpoint_dirs
from rlvr.runfiles import NotAFolder, RunExists, RunLock, RunLocked


def _candidates(cfg):
    if cfg.run.out:
        yield Path(cfg.run.out)
        return
    base, n = Path("runs") / cfg.run.name, 1
    yield base
    while True:
        n += 1
        yield base.with_name(f"{base.name}-{n}")


def run_dir_of(cfg) -> Path:
    """`run.out`, or `runs/<name>` — then `runs/<name>-2`, `-3`... if that already holds a run,
    so that running the same preset twice never collides."""
    return next(c for c in _candidates(cfg) if cfg.run.out or not checkpoint_dirs(c))


def claim_run_dir(cfg, *, resume: bool = False) -> tuple[Path, RunLock]:
    """The run folder (as `run_dir_of` picks it), created and locked for this process. Without
    `run.out`, a folder that holds checkpoints or that another live run holds is passed over
    for the next name; with it, either is an error (`RunExists`, `RunLocked`) — unless
    resuming, which needs the checkpoints."""
    for candidate in _candidates(cfg):
        if candidate.exists() and not candidate.is_dir():
            raise NotAFolder(f"the run folder {candidate} is a file; give --out a folder")
        try:
            candidate.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise NotAFolder(f"cannot create the run folder {candidate}: {e.strerror}") from None
        lock = RunLock(candidate)
        try:
            lock.acquire()
        except RunLocked:
            if cfg.run.out:
                raise
            continue
        if resume or not checkpoint_dirs(candidate):
            for stale in candidate.glob(".*.tmp"):  # a killed run's half-written file; we hold the lock
                stale.unlink(missing_ok=True)
            return candidate, lock
        lock.release()
        if cfg.run.out:
            raise RunExists(f"{candidate} already holds checkpoints; resume it with `rlvr train --resume "
                            f"{candidate}` or choose another folder with --out")
    raise AssertionError("unreachable: the candidates never end")
