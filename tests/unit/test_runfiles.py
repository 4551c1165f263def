"""Run-folder files survive kills and refuse a second run (issue 9 items 1 and 3)."""
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from rlvr.config import load_config, save_config

# A child that rewrites config.yaml in a tight loop, as a run does at every start; it is
# SIGKILLed at a random moment of a write.
REWRITER = """
import sys
from rlvr.config import load_config, save_config
cfg = load_config(sys.argv[2])
print("ready", flush=True)
while True:
    save_config(cfg, sys.argv[1])
"""


def test_config_rewrite_killed_mid_write_leaves_a_whole_file(tmp_path, tiny_config_path):
    """Issue 9 item 1: `save_config` truncated the file and streamed into it, so 7 of 7
    targeted kills left an empty config.yaml, which `--resume` read as the defaults."""
    target = tmp_path / "config.yaml"
    expected = load_config(tiny_config_path)
    save_config(expected, str(target))
    for trial in range(8):
        proc = subprocess.Popen([sys.executable, "-c", REWRITER, str(target), tiny_config_path],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.02 + 0.013 * trial)  # land the kill at a different point of the loop each time
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        assert load_config(str(target)) == expected, f"trial {trial}: {target.read_text()[:200]!r}"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "config.yaml"]
    assert all(name.endswith(".tmp") for name in leftovers)  # a killed write's temporary file, never the target


def test_atomic_write_keeps_the_old_file_when_the_write_fails(tmp_path):
    from rlvr.runfiles import atomic_write, atomic_write_text

    target = tmp_path / "eval.json"
    atomic_write_text(target, "old")

    class Boom(Exception):
        pass

    def failing(tmp):
        with open(tmp, "w") as fh:
            fh.write("half")
        raise Boom

    with pytest.raises(Boom):
        atomic_write(target, failing)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["eval.json"]  # the temporary file is gone


def test_second_lock_on_a_folder_is_refused_with_the_holders_pid(tmp_path):
    """Issue 9 item 3: two runs into one --out both exited 0 and mixed their files."""
    from rlvr.runfiles import RunLock, RunLocked

    with RunLock(tmp_path):
        with pytest.raises(RunLocked, match=f"pid {os.getpid()}"):
            RunLock(tmp_path).acquire()
    RunLock(tmp_path).acquire().release()  # released with the holder


def test_lock_of_a_killed_process_is_released_at_once(tmp_path):
    from rlvr.runfiles import RunLock, RunLocked

    holder = subprocess.Popen([sys.executable, "-c",
                               "import sys, time; from rlvr.runfiles import RunLock; "
                               f"lock = RunLock({str(tmp_path)!r}).acquire(); print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(RunLocked, match=f"pid {holder.pid}"):
        RunLock(tmp_path).acquire()
    holder.kill()
    holder.wait()
    holder.stdout.close()
    RunLock(tmp_path).acquire().release()  # the kernel dropped the dead holder's lock


def test_saved_config_is_plain_yaml(tmp_path, tiny_config_path):
    save_config(load_config(tiny_config_path), str(tmp_path / "c.yaml"))
    assert yaml.safe_load((tmp_path / "c.yaml").read_text())["model"]["path"] == "tiny"
