"""An engine for the Ray fault tests: the HF engine, except that one worker process kills
itself (SIGKILL, as the kernel's OOM killer or a lost node would end it) in the middle of a
generation call.

It is armed by the environment, which Ray workers inherit from the driver:
`RLVR_TEST_KILL_DIR` names a folder, and while the file `armed` exists there the first worker
to reach its `RLVR_TEST_KILL_AT`-th `generate` call (default 2) claims `killed` (exclusive
create: exactly one process dies, once) and kills itself before returning, so the prompts it
has sampled so far are lost with it. The replacement finds `killed` taken and works normally.
"""
from __future__ import annotations

import os
import signal
from pathlib import Path

from rlvr.rollout.hf import HFEngine


class KilledOnceEngine(HFEngine):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls = 0

    def generate(self, prompts, n, sampling):
        out = super().generate(prompts, n, sampling)
        self.calls += 1
        folder = os.environ.get("RLVR_TEST_KILL_DIR")
        if folder and (Path(folder) / "armed").exists() and self.calls >= int(os.environ.get("RLVR_TEST_KILL_AT", "2")):
            try:
                fd = os.open(Path(folder) / "killed", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                return out
            os.write(fd, str(os.getpid()).encode())
            os.close(fd)
            os.kill(os.getpid(), signal.SIGKILL)
        return out
