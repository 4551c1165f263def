"""`rlvr compare`, top to bottom: check the spec, plan the runs, train and evaluate what is not
done yet, then write summary.json, table.md and the plots."""
from __future__ import annotations

import json
import os
from pathlib import Path

from rlvr.compare.plots import plot_all
from rlvr.compare.run import Runner, plan
from rlvr.compare.spec import MIN_SEEDS, load_spec
from rlvr.compare.summary import clean, summarise, table
from rlvr.configtools import ConfigError
from rlvr.runfiles import atomic_write_text


def compare(spec_path: str, *, out: str | None = None, jobs: int = 1, progress: bool = True,
            allow_few_seeds: bool = False, say=print) -> dict:
    """Run the comparison of `spec_path` into `out` (default runs/compare-<spec name>); returns
    summary.json's content."""
    if jobs < 1:
        raise ConfigError(f"bad value {jobs} for '--jobs'; must be at least 1")
    spec = load_spec(spec_path, min_seeds=2 if allow_few_seeds else MIN_SEEDS)  # everything checked first
    out_dir = Path(out or Path("runs") / f"compare-{Path(spec_path).stem}")
    cores = os.cpu_count() or 1
    if jobs > cores:
        say(f"warning: --jobs {jobs} exceeds the {cores} cores; each job gets 1 thread, and the jobs' OpenMP threads "
            "spinning on shared cores slow every run down — --jobs "
            f"{cores} or fewer is faster")
    job_list = plan(spec, out_dir)
    runs = len(job_list)
    say(f"comparing {len(spec.methods)} methods × {len(spec.seeds)} seeds ({runs} runs, budget "
        f"{', '.join(f'{v} {k}' for k, v in spec.budget.items())}) in {out_dir}, {jobs} at once")
    Runner(spec, jobs=jobs, say=say).run(job_list, progress)

    summary = summarise(spec, out_dir, job_list)
    summary["table_md"] = table(summary, spec.eval_k)
    summary["plots"] = plot_all(summary, out_dir)
    atomic_write_text(out_dir / "table.md", summary["table_md"])
    atomic_write_text(out_dir / "summary.json", json.dumps(clean(summary), indent=2, allow_nan=False))
    say("")
    say(summary["table_md"])
    say(f"wrote {out_dir / 'summary.json'}, {out_dir / 'table.md'} and {len(summary['plots'])} plots in "
        f"{out_dir / 'plots'}")
    _write_html(out_dir, say)
    return summary


def _write_html(out_dir: Path, say) -> None:
    """The comparison's report.html (`rlvr report` on the folder); a failure to draw it costs the
    page, never the comparison, whose numbers are written above."""
    from rlvr.report import build_report

    try:
        say(f"wrote {build_report(out_dir)}")
    except Exception as e:  # noqa: BLE001 — the summary and table already stand
        say(f"warning: could not write {out_dir / 'report.html'}: {type(e).__name__}: {e}")
