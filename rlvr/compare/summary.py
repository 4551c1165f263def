"""From the comparison's run folders to its numbers: each run's final numbers and curves, their
mean and 95% t-interval over seeds per method, the paired test of each method against the
first, summary.json and table.md (docs/compare.md defines every number).

Everything is read from the files a run leaves (metrics.jsonl, eval.json, passk.json), so a
summary can be rebuilt from the folders alone.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from rlvr.eval.stats import LEVEL, paired_t_test, t_interval

CURVES = ("eval/accuracy", "reward/mean", "entropy", "length/mean")
"""Curves drawn against step and against generated tokens."""
PAIRED_METRIC = "eval/accuracy"


def read_rows(run_dir: Path) -> list[dict]:
    """metrics.jsonl's rows; a line cut by a kill is skipped (a resume drops it too)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and "step" in row:
            rows.append(row)
    return rows


def generated_tokens(row: dict) -> int:
    """Tokens generated in one step, every completion of every generation round counted (the
    sampler's count behind `tokens/generated_per_s`, which it divides by `time/generate_s`)."""
    return round(row["tokens/generated_per_s"] * max(row["time/generate_s"], 1e-9))


def reward_auc(rewards: list[float]) -> float:
    """Area under the training reward curve over steps 1..S by the trapezoid rule, divided by
    its width S − 1: the curve's mean height, comparable between runs of different lengths
    (one step: its reward)."""
    if not rewards:
        return math.nan
    if len(rewards) == 1:
        return float(rewards[0])
    return float(sum((a + b) / 2 for a, b in zip(rewards, rewards[1:])) / (len(rewards) - 1))


def run_numbers(run_dir: Path, ks: list[int]) -> tuple[dict[str, float], dict[str, dict[int, tuple[float, float]]]]:
    """(final numbers, curves) of one run. Curves: metric → {step: (cumulative generated tokens
    at that step, value)}; step 0 is the evaluation before training, at 0 tokens."""
    rows = read_rows(run_dir)
    train = sorted((r for r in rows if r["step"] > 0 and "reward/mean" in r), key=lambda r: r["step"])
    cum, tokens_at = 0, {0: 0}
    for r in train:
        cum += generated_tokens(r)
        tokens_at[r["step"]] = cum
    after = json.loads((Path(run_dir) / "eval.json").read_text(encoding="utf-8"))["after"]
    final = {"eval/accuracy": after["accuracy"],
             "reward/auc": reward_auc([r["reward/mean"] for r in train]),
             "length/mean": _mean(r.get("length/mean") for r in train),
             "entropy": _mean(r.get("entropy") for r in train),
             "time/train_s": float(sum(r.get("time/step_s", 0.0) for r in train)),
             "tokens/generated": float(cum), "steps": float(len(train))}
    if ks:
        passk = json.loads((Path(run_dir) / "passk.json").read_text(encoding="utf-8"))
        final.update({f"pass@{k}": passk[f"pass@{k}"] for k in ks})
    curves: dict[str, dict[int, tuple[float, float]]] = {m: {} for m in CURVES}
    for r in rows:
        for m in CURVES:
            if r.get(m) is not None and r["step"] in tokens_at:
                curves[m][r["step"]] = (float(tokens_at[r["step"]]), float(r[m]))
    return final, curves


def _mean(values) -> float:
    xs = [v for v in values if v is not None]
    return float(np.mean(xs)) if xs else math.nan


def _interval(values: list[float]) -> dict:
    if any(math.isnan(v) for v in values):
        return {"mean": math.nan, "ci": [math.nan, math.nan], "values": values}
    mean, lo, hi = t_interval(values)
    return {"mean": mean, "ci": [lo, hi], "values": values}


def step_curve(per_seed: list[dict[int, tuple[float, float]]]) -> dict:
    """Mean and t-interval over seeds at each step every seed has; `tokens` is the seeds'
    mean cumulative token count at that step."""
    steps = sorted(set.intersection(*(set(c) for c in per_seed))) if per_seed else []
    out = {"step": steps, "tokens": [], "mean": [], "lo": [], "hi": []}
    for s in steps:
        mean, lo, hi = t_interval([c[s][1] for c in per_seed])
        out["tokens"].append(float(np.mean([c[s][0] for c in per_seed])))
        for key, v in (("mean", mean), ("lo", lo), ("hi", hi)):
            out[key].append(v)
    return out


def token_curve(per_seed: list[dict[int, tuple[float, float]]]) -> dict:
    """Seeds generate different numbers of tokens per step, so against tokens their curves are
    aligned by linear interpolation onto one grid: every seed's token counts that lie where
    all seeds have data (from the latest first point to the earliest last one), never
    extrapolated; then the mean and t-interval over seeds at each grid point."""
    points = [sorted(c.values()) for c in per_seed if c]
    out = {"tokens": [], "mean": [], "lo": [], "hi": []}
    if len(points) < len(per_seed) or not points:
        return out
    start, end = max(p[0][0] for p in points), min(p[-1][0] for p in points)
    grid = sorted({x for p in points for x, _ in p if start <= x <= end})
    for x in grid:
        mean, lo, hi = t_interval([float(np.interp(x, [a for a, _ in p], [b for _, b in p])) for p in points])
        for key, v in (("tokens", x), ("mean", mean), ("lo", lo), ("hi", hi)):
            out[key].append(v)
    return out


def summarise(spec, out: Path, jobs) -> dict:
    """summary.json's content (without table_md and plots, which are added by the caller)."""
    ks = spec.eval_k
    methods, finals = [], {}
    for method in spec.methods:
        runs = {j.seed: j for j in jobs if j.method == method.name}
        numbers = {seed: run_numbers(runs[seed].dir, ks) for seed in spec.seeds}
        finals[method.name] = {seed: numbers[seed][0] for seed in spec.seeds}
        metrics = list(numbers[spec.seeds[0]][0])
        final = {m: _interval([finals[method.name][s][m] for s in spec.seeds]) for m in metrics}
        per_curve = {m: [numbers[s][1][m] for s in spec.seeds] for m in CURVES}
        methods.append({
            "name": method.name, "algo": method.algo, "overrides": method.overrides,
            "runs": {str(s): runs[s].rel for s in spec.seeds},
            "final": final,
            "curves": {m: step_curve(c) for m, c in per_curve.items() if any(c)},
            "curves_by_tokens": {m: token_curve(c) for m, c in per_curve.items() if any(c)},
            "paired": None})
    first = spec.methods[0].name
    for m in methods[1:]:
        test = paired_t_test([finals[m["name"]][s][PAIRED_METRIC] for s in spec.seeds],
                             [finals[first][s][PAIRED_METRIC] for s in spec.seeds])
        m["paired"] = {"vs": first, "metric": PAIRED_METRIC, **test}
    return {"spec": spec.raw, "out": str(out), "budget": spec.budget, "seeds": spec.seeds, "level": LEVEL,
            "interval": f"Student t over seeds, {len(spec.seeds) - 1} degrees of freedom", "methods": methods}


def _pm(entry: dict, scale: float = 1.0, digits: int = 3, unit: str = "") -> str:
    mean, (lo, hi) = entry["mean"], entry["ci"]
    if math.isnan(mean):
        return "–"
    return f"{mean * scale:.{digits}f}{unit} ± {(hi - lo) / 2 * scale:.{digits}f}"


def table(summary: dict, ks: list[int]) -> str:
    """table.md: one row per method, mean ± half-width of the 95% t-interval over seeds."""
    n = len(summary["seeds"])
    first = summary["methods"][0]["name"]
    cols = ["method", "held-out acc. (%)", *(f"pass@{k} (%)" for k in ks), "reward AUC", "mean length", "entropy",
            "train time (s)", "tokens generated", f"Δ acc. vs {first} (points) [95% CI], p"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for m in summary["methods"]:
        f = m["final"]
        p = m["paired"]
        paired = "–" if p is None else (f"{100 * p['diff_mean']:+.1f} [{100 * p['ci'][0]:+.1f}, {100 * p['ci'][1]:+.1f}], "
                                        f"p = {p['p_value']:.3f}")
        cells = [m["name"], _pm(f["eval/accuracy"], 100, 1), *(_pm(f[f"pass@{k}"], 100, 1) for k in ks),
                 _pm(f["reward/auc"]), _pm(f["length/mean"], digits=1), _pm(f["entropy"]),
                 _pm(f["time/train_s"], digits=1), _pm(f["tokens/generated"], digits=0)]
        lines.append("| " + " | ".join([*cells, paired]) + " |")
    budget = ", ".join(f"{v} {k}" for k, v in summary["budget"].items())
    lines += ["", f"Budget: {budget}; seeds {', '.join(map(str, summary['seeds']))}. Each cell: mean over the {n} "
              f"seeds ± half-width of the 95% Student t interval ({n - 1} degrees of freedom). Held-out accuracy: "
              "greedy, after training. Reward AUC: trapezoid area under the training reward curve divided by its "
              "width in steps. Mean length and entropy: means over the training steps. Δ: paired t-test of final "
              f"held-out accuracy against {first} over the same seeds (two-sided p)."]
    return "\n".join(lines) + "\n"


def clean(obj):
    """NaN and ±inf as null: JSON has no spelling for them."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    return obj
