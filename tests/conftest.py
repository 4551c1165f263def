import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


@pytest.fixture(scope="session")
def tiny_config_path() -> str:
    return str(CONFIGS / "tiny.yaml")


def rlvr_cmd() -> list[str]:
    """The installed console script when present (as a user runs it), else the module."""
    exe = Path(sys.executable).parent / "rlvr"
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "rlvr.cli"]
