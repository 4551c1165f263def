"""MLflow (`run.trackers: [mlflow]`), through `MlflowClient` (no global active run).

Where: `MLFLOW_TRACKING_URI` when set (a server, `sqlite:///...`, a folder), else a file store
in the run folder, `<run>/mlruns`, so a run needs no server, no database and no network.
MLflow 3 refuses a file store unless `MLFLOW_ALLOW_FILE_STORE=true`; rlvr sets that (when
unset) for this default store only. `MLFLOW_ALLOW_FILE_STORE=true mlflow ui
--backend-store-uri <run>/mlruns` shows it. The experiment is `run.project` when set, else
`MLFLOW_EXPERIMENT_NAME`, else "rlvr"; the run's name is `run.name`.

The resolved config goes in as parameters (`section.key`; lists as JSON) and whole as the
artifact `config.yaml`; the metrics at their steps (a character MLflow refuses in a metric
name, such as the `@` of `pass@k`, becomes `_`); each step's sampled completions are
appended to the table artifact `completions.json` (`mlflow.load_table`). The run id is kept in the run folder
(`trackers.json`), so a resume continues the same MLflow run.
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any, ClassVar

from rlvr.trackers.base import completion_table, finite_numbers, flat_config, read_state, write_state

PARAM_VALUE_LIMIT = 6000
"""MLflow refuses longer parameter values; the artifact config.yaml keeps the whole config."""
BATCH = 100
"""MLflow's limit of parameters per `log_batch` call."""


def metric_name(key: str) -> str:
    """The name MLflow accepts: letters, digits, `_ - . / :` and spaces."""
    return re.sub(r"[^\w\-./: ]", "_", key)


class MlflowTracker:
    requires: ClassVar[tuple[str, ...]] = ("mlflow", "pandas")  # pandas: MLflow's tables
    pip: ClassVar[str] = "pip install mlflow-skinny pandas"
    rewinds: ClassVar[bool] = False

    def __init__(self) -> None:
        self.client = None
        self.run_id = ""

    def start(self, config: Any, run_dir: Path, resume: int | None) -> None:
        import mlflow
        import yaml

        from rlvr.configtools import to_plain

        uri = os.environ.get("MLFLOW_TRACKING_URI")
        if not uri:
            uri = (Path(run_dir).resolve() / "mlruns").as_uri()
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
        # appending to the completions table re-reads it: no download progress bar every step
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        self.client = mlflow.MlflowClient(tracking_uri=uri)
        state = read_state(run_dir, "mlflow") if resume is not None else {}
        if state.get("run_id") and state.get("tracking_uri") == uri:
            self.run_id = state["run_id"]
            self.client.update_run(self.run_id, status="RUNNING")
        else:
            if state.get("run_id"):
                print(f"mlflow: the tracking URI is now {uri} (it was {state['tracking_uri']}): the resumed run "
                      "is logged as a new MLflow run", flush=True)
            self.run_id = self.client.create_run(self._experiment(config), run_name=config.run.name,
                                                 tags={"rlvr.run_dir": str(Path(run_dir).resolve())}).info.run_id
            self._log_params(config)
            write_state(run_dir, "mlflow", run_id=self.run_id, tracking_uri=uri)
        self.client.log_text(self.run_id, yaml.safe_dump(to_plain(config), sort_keys=False, allow_unicode=True),
                             "config.yaml")

    def _experiment(self, config: Any) -> str:
        if not config.run.project and os.environ.get("MLFLOW_EXPERIMENT_ID"):
            return os.environ["MLFLOW_EXPERIMENT_ID"]
        name = config.run.project or os.environ.get("MLFLOW_EXPERIMENT_NAME") or "rlvr"
        found = self.client.get_experiment_by_name(name)
        return found.experiment_id if found else self.client.create_experiment(name)

    def _log_params(self, config: Any) -> None:
        from mlflow.entities import Param

        params = []
        for key, value in flat_config(config).items():
            text = str(value)
            if len(text) > PARAM_VALUE_LIMIT:
                text = f"(longer than MLflow's {PARAM_VALUE_LIMIT} characters: see the artifact config.yaml)"
            params.append(Param(key, text))
        for i in range(0, len(params), BATCH):
            self.client.log_batch(self.run_id, params=params[i:i + BATCH])

    def log(self, metrics: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        values = [Metric(metric_name(k), v, now, step) for k, v in finite_numbers(metrics).items()]
        for i in range(0, len(values), 1000):  # MLflow's limit of metrics per call
            self.client.log_batch(self.run_id, metrics=values[i:i + 1000])

    def log_completions(self, rows: list[dict], step: int) -> None:
        columns, data = completion_table(rows, step)
        self.client.log_table(self.run_id, data={c: [r[i] for r in data] for i, c in enumerate(columns)},
                              artifact_file="completions.json")

    def finish(self) -> None:
        if self.client is not None:
            self.client.set_terminated(self.run_id, status="FINISHED")
            self.client = None
