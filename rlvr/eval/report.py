"""An evaluation's summary with its 95% intervals (the machine-readable result of `rlvr eval
--json`) and the table printed on the terminal.

Every metric is a mean over problems of a per-problem number (EvalResult.per_problem), so each
gets a percentile bootstrap interval over problems; greedy accuracy, a share of problems, also
gets the Wilson interval. All bootstrap intervals of one evaluation use the same resamples
(one seed), so they describe the same hypothetical re-draws of the problem set.
"""
from __future__ import annotations

import json
from pathlib import Path

from rlvr.eval.evaluate import EvalResult
from rlvr.eval.stats import BOOTSTRAP_RESAMPLES, LEVEL, bootstrap_ci, wilson_interval

WILSON = "Wilson"
BOOTSTRAP = "bootstrap"


def summarise(result: EvalResult, *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0,
              level: float = LEVEL) -> dict:
    """`result.as_dict(examples=True)` (the keys `rlvr eval --json` always had), plus maj@k,
    `sampled_mean_length` and `intervals`: {metric: {method: [low, high]}}."""
    out = result.as_dict(examples=True)
    out.update({f"maj@{k}": v for k, v in result.maj_at.items()})
    if result.n:
        out["sampled_mean_length"] = result.sampled_mean_length
    rows = result.per_problem
    if not rows:
        return out

    def boot(values) -> list[float]:
        return list(bootstrap_ci(list(values), resamples=resamples, seed=seed, level=level))

    intervals: dict[str, dict[str, list[float]]] = {
        "accuracy": {WILSON: list(wilson_interval(sum(r["greedy_correct"] for r in rows), len(rows), level)),
                     BOOTSTRAP: boot(r["greedy_correct"] for r in rows)},
        "mean_length": {BOOTSTRAP: boot(r["greedy_length"] for r in rows)}}
    for k in result.pass_at:
        intervals[f"pass@{k}"] = {BOOTSTRAP: boot(r[f"pass@{k}"] for r in rows)}
    for k in result.maj_at:
        intervals[f"maj@{k}"] = {BOOTSTRAP: boot(r[f"maj@{k}"] for r in rows)}
    if result.n:
        intervals["sampled_mean_length"] = {BOOTSTRAP: boot(r["sampled_mean_length"] for r in rows)}
    for group in result.by_group:
        mine = [r["greedy_correct"] for r in rows if r.get("group") == group]
        intervals[f"{group}/accuracy"] = {WILSON: list(wilson_interval(sum(mine), len(mine), level)),
                                          BOOTSTRAP: boot(mine)}
    out["intervals"] = intervals
    out["interval_level"] = level
    out["bootstrap"] = {"resamples": resamples, "seed": seed, "over": "problems", "method": "percentile"}
    return out


def _label(metric: str) -> str:
    if metric == "accuracy":
        return "greedy accuracy"
    if metric == "mean_length":
        return "mean length, greedy (tokens)"
    if metric == "sampled_mean_length":
        return "mean length, samples (tokens)"
    if metric.endswith("/accuracy"):
        return f"greedy accuracy, {metric.rsplit('/', 1)[0]}"
    return metric


def format_table(summary: dict) -> str:
    """The summary as an aligned table: each metric's value with its interval(s) beside it."""
    intervals = summary.get("intervals", {})
    level = summary.get("interval_level", LEVEL)
    resamples = summary.get("bootstrap", {}).get("resamples", BOOTSTRAP_RESAMPLES)
    order = ["accuracy", *[k for k in summary if k.endswith("/accuracy")],
             *[k for k in summary if k.startswith("pass@")], *[k for k in summary if k.startswith("maj@")],
             "mean_length", *(["sampled_mean_length"] if "sampled_mean_length" in summary else [])]
    lines = []
    for metric in order:
        length = "length" in metric
        fmt = (lambda x: f"{x:.1f}") if length else (lambda x: f"{x:.1%}")
        methods = intervals.get(metric) or {"": None}
        for j, (method, ci) in enumerate(methods.items()):
            name = _label(metric) if j == 0 else ""
            value = fmt(summary[metric]) if j == 0 else ""
            span = f"[{fmt(ci[0])}, {fmt(ci[1])}]" if ci else ""
            how = {WILSON: "Wilson (binomial)", BOOTSTRAP: f"bootstrap over problems, B={resamples}"}.get(method, "")
            lines.append((name, value, span, how))
    head = ("metric", "value", f"{level:.0%} interval", "interval method")
    widths = [max(len(row[i]) for row in [head, *lines]) for i in range(4)]
    def row(cells) -> str:
        return "  ".join(c.ljust(w) if i in (0, 2, 3) else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()
    return "\n".join([row(head), row(tuple("-" * w for w in widths)), *(row(r) for r in lines)])


def write_per_problem(path: str | Path, result: EvalResult) -> None:
    """One JSON line per problem (EvalResult.per_problem), written atomically."""
    from rlvr.runfiles import atomic_write_text

    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in result.per_problem))
