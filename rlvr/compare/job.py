"""One job of `rlvr compare` in one process: several `rlvr` commands in a row (a run's
training, then the pass@k evaluation of its final checkpoint), so the interpreter and torch
start once per run rather than once per command.

    python -m rlvr.compare.job '[["train", "cfg.yaml", "--out", "DIR"], ["eval", "--model", ...]]'

Stops at the first command that fails, with its exit status.
"""
from __future__ import annotations

import json
import sys


def main(argv: list[str]) -> int:
    from rlvr.cli import main as rlvr

    for command in json.loads(argv[0]):
        print(f"$ rlvr {' '.join(command)}", flush=True)
        if rc := rlvr(command):
            return rc
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
