"""The files of a run folder that must survive a kill, a full disk or a second run.

- `atomic_write` / `atomic_write_text`: a file is written to a temporary sibling, flushed
  to disk and renamed over the old one (rename(2) is atomic within a file system), so a kill
  mid-write leaves the old file or the new one, never an empty or half-written one.
- `RunLock`: an exclusive `flock(2)` on `<run>/.lock`, held for the whole run. The kernel
  drops it when the process dies, however it dies, so a killed run's folder can be resumed
  at once; a second run into a held folder is refused, naming the holder's pid.
- `is_disk_full`: whether an OSError means the disk (or quota) is full.

Issue 9 items 1, 3 and 5; docs/reliability.md lists these promises and their tests.
"""
from __future__ import annotations

import contextlib
import errno
import os
import tempfile
import threading
from pathlib import Path
from typing import Callable

LOCK_FILE = ".lock"


class RunFolderError(RuntimeError):
    """A user-facing problem with the run folder; the message says what to do."""


class RunExists(RunFolderError):
    """The run folder already holds checkpoints of another run, or another run holds it."""


class RunLocked(RunExists):
    """Another live process is training into the run folder."""


class NotAFolder(RunFolderError):
    """`--out` (or the folder resumed) is a file, or cannot be created."""


class DiskFull(RunFolderError):
    """The disk filled up while the run wrote its files; the message names the newest good
    checkpoint to resume from."""


def is_disk_full(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)


@contextlib.contextmanager
def disk_full_reported_once():
    """Background threads (TensorBoard's writer) that hit a full disk stay quiet: the main
    thread hits it too and reports it once, with the checkpoint to resume from, instead of a
    library traceback per thread."""
    previous = threading.excepthook

    def hook(args) -> None:
        if not is_disk_full(args.exc_value):
            previous(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = previous


def fsync_dir(path: str | Path) -> None:
    """Make a rename or a new file in `path` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a folder; the rename is still atomic
    finally:
        os.close(fd)


def atomic_write(path: str | Path, write: Callable[[str], None]) -> Path:
    """Call `write(tmp_path)` to produce the file's content at a temporary sibling, then
    fsync it and rename it over `path`. On any error the temporary file is removed and
    `path` keeps its old content."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(path.parent)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
    return atomic_write(path, write)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    def write(tmp: str) -> None:
        with open(tmp, "wb") as fh:
            fh.write(data)
    return atomic_write(path, write)


class RunLock:
    """Exclusive lock on a run folder for as long as this object is held (or `release`d).

    POSIX only (`fcntl.flock`); where `fcntl` is missing the lock is a no-op and says so in
    `held`. The pid written into the lock file is for the error message only: the lock
    itself is the kernel's, not the file's content, so a stale file never blocks anyone."""

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / LOCK_FILE
        self._fh = None
        self.held = False

    def acquire(self) -> "RunLock":
        """Take the lock or raise `RunLocked` naming the process that holds it."""
        try:
            import fcntl
        except ImportError:  # not POSIX: no lock (docs/reliability.md says so)
            return self
        fh = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "unknown"
            fh.close()
            raise RunLocked(f"{self.path.parent} is in use by another run (pid {holder}); wait for it to end, "
                            "or choose another folder with --out") from None
        except OSError:
            fh.close()
            raise
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._fh, self.held = fh, True
        return self

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()  # closing the descriptor drops the flock
            self._fh, self.held = None, False

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
