"""The refactor's proof that nothing changed (issue 10): the per-step metrics and a hash of the
final weights of tiny end-to-end runs, recorded before the code moved, and compared bit for
bit afterwards.

The e2e tests call `assert_unchanged(name, run_dir)` on the runs they already make (every
algorithm preset, every reward preset, every verifier), so the check costs no extra training.
`RLVR_RECORD_EQUIVALENCE=1 pytest tests/e2e` records (or re-records) the entries; a change that
moves a number on purpose re-records its own entries in its own commit, saying why.

Floating point is bit-reproducible only on the same kind of machine: the fixture keeps the
signature of the machine that recorded it (CPU capability, processor, torch version), and on
another kind the comparison is skipped with a warning instead of failing on rounding.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import warnings
from pathlib import Path

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "equivalence.json"
VOLATILE = ("time/", "tokens/generated_per_s")  # wall-clock measurements, never reproducible


def machine() -> str:
    import torch

    model = ""
    try:
        model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo", encoding="utf-8")
                      if line.startswith("model name")), "")
    except OSError:
        pass
    return f"{platform.machine()} {torch.backends.cpu.get_cpu_capability()} {model} torch {torch.__version__}"


def _weights_sha256(run_dir: Path) -> str | None:
    import torch
    from safetensors.torch import load_file

    steps = sorted((int(p.name.split("-")[1]), p) for p in (run_dir / "checkpoints").glob("step-*")
                   if p.name.split("-")[1].isdigit())
    if not steps:
        return None
    weights = load_file(str(steps[-1][1] / "model.safetensors"))
    h = hashlib.sha256()
    for name in sorted(weights):
        t = weights[name].contiguous()
        h.update(f"{name} {t.dtype} {tuple(t.shape)}\n".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def fingerprint(run_dir: str | Path) -> dict:
    run_dir = Path(run_dir)
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    metrics = [{k: v for k, v in r.items() if not k.startswith(VOLATILE)} for r in rows]
    evals = run_dir / "eval.json"  # the held-out results before and after training
    evaluated = json.loads(evals.read_text(encoding="utf-8")) if evals.is_file() else None
    if metrics and (evaluated or {}).get("after"):
        # Since issue 11 the last row also carries the evaluation after training; eval.json,
        # compared below, holds the same numbers, so the rows recorded before then still compare.
        after = {f"eval/{k}": v for k, v in evaluated["after"].items() if k != "examples"}
        assert {k: v for k, v in metrics[-1].items() if k.startswith("eval/")} == after, "the last row's eval/*"
        metrics[-1] = {k: v for k, v in metrics[-1].items() if not k.startswith("eval/")}
    return {"metrics": metrics, "weights_sha256": _weights_sha256(run_dir), "eval": evaluated}


def _load() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8")) if FIXTURE.is_file() else {"machine": "", "runs": {}}


def assert_unchanged(name: str, run_dir: str | Path) -> None:
    got = fingerprint(run_dir)
    data = _load()
    if os.environ.get("RLVR_RECORD_EQUIVALENCE"):
        if data["machine"] and data["machine"] != machine():
            raise AssertionError(f"the fixture was recorded on {data['machine']!r}; re-record all of it here")
        data["machine"] = machine()
        data["runs"][name] = got
        FIXTURE.parent.mkdir(parents=True, exist_ok=True)
        FIXTURE.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        return
    if data["machine"] != machine():
        warnings.warn(f"equivalence fixture recorded on {data['machine']!r}, this is {machine()!r}: not compared")
        return
    assert name in data["runs"], f"no recorded fingerprint for {name!r}: record it (RLVR_RECORD_EQUIVALENCE=1)"
    want = data["runs"][name]
    for step, (a, b) in enumerate(zip(got["metrics"], want["metrics"])):
        changed = {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}
        assert not changed, f"{name}: metrics row {step} changed (now, recorded): {changed}"
    assert len(got["metrics"]) == len(want["metrics"]), f"{name}: {len(got['metrics'])} metrics rows, recorded " \
                                                        f"{len(want['metrics'])}"
    assert got["weights_sha256"] == want["weights_sha256"], f"{name}: the final weights changed"
    assert got["eval"] == want["eval"], f"{name}: the held-out evaluation changed"
