"""What the trackers wrote, read back from each tool's own offline store, and the environment
that keeps every tool offline in the tests (no account, no network, nothing in ~/.cache).

- wandb offline: `<run>/wandb/offline-run-*-<id>/run-<id>.wandb`, a LevelDB-style log of
  protobuf `Record`s (what `wandb sync` uploads), one folder per start of the same run;
- MLflow: the file store `<run>/mlruns`, through `MlflowClient`;
- trackio: its SQLite store under `TRACKIO_DIR`, through trackio's storage class.
"""
from __future__ import annotations

import glob
import json
import os
import tempfile
from pathlib import Path

# trackio reads TRACKIO_DIR once, when first imported: one folder for the whole test session
os.environ.setdefault("TRACKIO_DIR", tempfile.mkdtemp(prefix="rlvr-tests-trackio-"))


def offline_trackers(monkeypatch, base: Path) -> None:
    """Every tracker in its offline or local mode, its default places (in the run folder)."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    for name in ("WANDB_DIR", "WANDB_PROJECT", "MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_NAME",
                 "MLFLOW_EXPERIMENT_ID", "TRACKIO_SPACE_ID"):
        monkeypatch.delenv(name, raising=False)


def _state(out: Path, name: str) -> dict:
    return json.loads((Path(out) / "trackers.json").read_text())[name]


def _leveldb_records(path: str):
    """The records of a .wandb file: a 7-byte header (`:W&B`, magic, version), then 32 KiB
    blocks of chunks (checksum 4, length 2, type 1: full, first, middle, last)."""
    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", path
    pos, block, pending = 7, 32768, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:  # a block's tail too short for a chunk header is padding
            pos += left
            continue
        length, kind = int.from_bytes(data[pos + 4:pos + 6], "little"), data[pos + 6]
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind == 1:
            yield chunk
        elif kind == 2:
            pending = chunk
        elif kind == 3:
            pending += chunk
        elif kind == 4:
            yield pending + chunk


def read_wandb(out: Path) -> dict:
    """{"metrics": {key: [(step, value)]}, "config": dict, "completions": the last table}
    of the wandb run in `out`, over each of its offline folders in order."""
    from wandb.proto import wandb_internal_pb2

    run_id = _state(out, "wandb")["id"]
    metrics: dict[str, list] = {}
    config: dict = {}
    folders = sorted(glob.glob(str(Path(out) / "wandb" / f"offline-run-*-{run_id}")))
    assert folders, f"no offline wandb run {run_id} in {out}"
    for folder in folders:
        for raw in _leveldb_records(f"{folder}/run-{run_id}.wandb"):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(raw)
            kind = record.WhichOneof("record_type")
            if kind == "history":
                items = {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in record.history.item}
                for key, value in items.items():
                    if not key.startswith(("_", "completions/")):
                        metrics.setdefault(key, []).append((record.history.step.num, value))
            updates = record.run.config.update if kind == "run" else record.config.update if kind == "config" else []
            config.update({u.key: json.loads(u.value_json) for u in updates if u.key != "_wandb"})
    tables = sorted(glob.glob(f"{folders[-1]}/files/media/table/completions_*.table.json"),
                    key=lambda p: int(Path(p).name.split("_")[1]))
    return {"metrics": metrics, "config": config,
            "completions": json.loads(Path(tables[-1]).read_text()) if tables else None}


def read_mlflow(out: Path) -> dict:
    """The MLflow run of `out` from its file store: metrics per step, params, status, name and
    the rows of the completions table."""
    import mlflow

    state = _state(out, "mlflow")
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    client = mlflow.MlflowClient(tracking_uri=state["tracking_uri"], registry_uri=state["tracking_uri"])
    run = client.get_run(state["run_id"])
    metrics = {k: [(m.step, m.value) for m in sorted(client.get_metric_history(run.info.run_id, k),
                                                      key=lambda m: (m.step, m.timestamp))]
               for k in run.data.metrics}
    # the artifact itself (MlflowClient.load_table searches with the global tracking URI, not this one)
    with tempfile.TemporaryDirectory() as tmp:
        table = json.loads(Path(client.download_artifacts(run.info.run_id, "completions.json", tmp)).read_text())
    rows = [{c: (None if isinstance(v, float) and v != v else v) for c, v in zip(table["columns"], row)}
            for row in table["data"]]
    return {"metrics": metrics, "params": run.data.params, "status": run.info.status,
            "name": run.info.run_name, "completions": rows}


def read_trackio(out: Path) -> dict:
    """The trackio run of `out` from trackio's local store: metrics per step, its config and
    the steps that logged a completions table."""
    from trackio.sqlite_storage import SQLiteStorage

    state = _state(out, "trackio")
    logs = SQLiteStorage.get_logs(state["project"], state["name"])
    metrics: dict[str, list] = {}
    steps_with_table = []
    for entry in logs:
        for key, value in entry.items():
            if key == "completions":
                steps_with_table.append(int(entry["step"]))
            elif key not in ("step", "timestamp") and isinstance(value, (int, float)):
                metrics.setdefault(key, []).append((int(entry["step"]), value))
    return {"metrics": metrics, "config": SQLiteStorage.get_run_config(state["project"], state["name"]),
            "completions_steps": steps_with_table}
