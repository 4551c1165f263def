"""`rlvr report RUN_OR_COMPARISON`: one self-contained HTML file (docs/report.md).

A run folder (config.yaml, metrics.jsonl, samples.jsonl, eval.json) gives the run's report; a
folder written by `rlvr compare` (summary.json) gives the comparison's. Charts are inline SVG
drawn here and the rollout browser is a short inline script, so the file needs no server, no
network and no CDN.
"""
from __future__ import annotations

import json
from pathlib import Path

from rlvr.runfiles import atomic_write_text


class NotAReportFolder(ValueError):
    """The folder is neither a run nor a comparison."""


def build_report(folder: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of a run or comparison folder to `out` (default FOLDER/report.html)."""
    folder = Path(folder)
    summary_path = folder / "summary.json"
    if summary_path.is_file():
        from rlvr.report.comparison import comparison_report

        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
        except ValueError as e:
            raise NotAReportFolder(f"{summary_path} is not valid JSON ({e}); rerun `rlvr compare` to rewrite it")
        html = comparison_report(folder, summary)
    elif (folder / "metrics.jsonl").is_file() or (folder / "config.yaml").is_file():
        from rlvr.report.run import run_report

        html = run_report(folder)
    else:
        raise NotAReportFolder(f"{folder} is neither a run folder (config.yaml, metrics.jsonl) nor a comparison "
                               "folder (summary.json)")
    return atomic_write_text(Path(out) if out else folder / "report.html", html)


def write_run_html(run_dir: str | Path) -> Path:
    """At the end of `rlvr train`: record the environment in the run folder, then the report."""
    from rlvr.report import environment

    environment.record(run_dir)
    return build_report(run_dir)
