"""One training process against two (`--nproc 2`, FSDP2 over gloo) on the same SmolLM2 run:
seconds per step and the peak memory of each training process. Run it on an idle machine:

    .venv/bin/python bench/processes.py --steps 4 --json bench/processes.json

Each setting is one `rlvr train` of the demo's config (configs/quickstart.yaml) with the
evaluations off, no checkpoint but the last, and the engine in fp32 (`--rollout.dtype=float32`:
several processes sample from the sharded trainer model itself, so both settings do). Step time is the mean of `time/step_s` over
the steps after the first (the first includes one-off allocations). Peak memory: the largest
resident set each process of the run's tree reached, sampled every 0.2 s from /proc; the N
largest are the N training processes (the driver, torchrun and the verifier workers are a few
hundred MB each, the trainers several GB).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


def _tree(root: int) -> list[int]:
    todo, seen = [root], []
    while todo:
        pid = todo.pop()
        seen.append(pid)
        todo.extend(_children(pid))
    return seen


def _rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run(nproc: int, steps: int, config: str, overrides: list[str]) -> dict:
    out = Path(tempfile.mkdtemp(prefix=f"bench-nproc{nproc}-")) / "run"
    cmd = [str(Path(sys.executable).parent / "rlvr"), "train", config, "--out", str(out), "--nproc", str(nproc),
           f"--run.steps={steps}", "--run.save_every=0", "--eval.before=false", "--eval.after=false",
           "--run.progress=false", *overrides]
    t0 = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peaks: dict[int, int] = {}
    while proc.poll() is None:
        for pid in _tree(proc.pid):
            peaks[pid] = max(peaks.get(pid, 0), _rss_bytes(pid))
        time.sleep(0.2)
    log = proc.stdout.read()
    if proc.returncode:
        raise SystemExit(f"nproc {nproc} failed:\n{log[-3000:]}")
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    step_s = [r["time/step_s"] for r in rows if r["step"] > 1]
    trainers = sorted(peaks.values(), reverse=True)[:nproc]
    return {"nproc": nproc, "steps": steps, "seconds_per_step": sum(step_s) / len(step_s),
            "seconds_per_step_each": [r["time/step_s"] for r in rows if r["step"] >= 1],
            "update_seconds_per_step": sum(r["time/update_s"] for r in rows if r["step"] > 1) / len(step_s),
            "peak_rss_gb_per_trainer": [round(b / 1e9, 3) for b in trainers],
            "wall_s": time.time() - t0, "reward_mean": [r["reward/mean"] for r in rows if r["step"] >= 1]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--config", default=str(ROOT / "configs" / "quickstart.yaml"))
    ap.add_argument("--json", help="write the results here")
    # several processes sample from the sharded trainer model itself, in fp32: both settings do
    ap.add_argument("--override", action="append", default=["--rollout.dtype=float32"],
                    help="a config override given to both runs (repeatable)")
    args = ap.parse_args()
    import torch

    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "torch": torch.__version__,
               "config": args.config, "overrides": args.override,
               "runs": [run(n, args.steps, args.config, args.override) for n in (1, 2)]}
    for r in results["runs"]:
        print(f"--nproc {r['nproc']}: {r['seconds_per_step']:.1f} s/step (update {r['update_seconds_per_step']:.1f} s), "
              f"peak RSS per trainer {r['peak_rss_gb_per_trainer']} GB")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
