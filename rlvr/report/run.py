"""The report of one run folder: held-out evaluation, charts of every numeric metric in
`metrics.jsonl` grouped by prefix, the rollout browser over `samples.jsonl`, the resolved
config and the environment.

It reads the folder's files only (no model, no torch), tolerating a missing file or a line cut by
a kill: a report of a run still in progress, or of a damaged one, shows what is there.
"""
from __future__ import annotations

import datetime
import json
from html import escape
from pathlib import Path

from rlvr.report import environment
from rlvr.report.page import page, section, table
from rlvr.report.rollouts import browser
from rlvr.report.svg import PALETTE, Series, finite, fmt, line_chart

GROUP_ORDER = ("reward", "train", "length", "eval", "mismatch", "correction", "staleness", "time", "tokens")
"""Sections first in this order (`train`: the metrics with no prefix: accuracy, entropy, clip_frac,
approx_kl, loss, ...), the other prefixes after them alphabetically."""


def read_jsonl(path: Path) -> list[dict]:
    """The readable object rows of a JSONL file; [] when it is missing."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_bytes().split(b"\n"):
        try:
            row = json.loads(line.decode("utf-8")) if line.strip() else None
        except (UnicodeDecodeError, ValueError):  # a last line cut by a kill
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def metric_groups(history: list[dict]) -> dict[str, list[str]]:
    """{prefix: [metric keys]} of every key with a numeric value in some row; a key's prefix is
    what comes before its first `/`, `train` for a key with none."""
    keys: dict[str, None] = {}
    for row in history:
        for k, v in row.items():
            if k != "step" and finite(v):
                keys.setdefault(k)
    groups: dict[str, list[str]] = {}
    for k in keys:
        groups.setdefault(k.split("/", 1)[0] if "/" in k else "train", []).append(k)
    order = {g: i for i, g in enumerate(GROUP_ORDER)}
    return {g: sorted(groups[g]) for g in sorted(groups, key=lambda g: (order.get(g, len(order)), g))}


def _charts(history: list[dict]) -> str:
    rows = sorted((r for r in history if isinstance(r.get("step"), int)), key=lambda r: r["step"])
    if not rows:
        return "<p>metrics.jsonl holds no rows yet.</p>"
    out = []

    def series(key: str, label: str, color: str = PALETTE[0]) -> Series:
        # the rows that logged the key: a held-out evaluation every few steps is one line through
        # its steps; a value logged as NaN (None in the file) breaks the line there
        logged = [r for r in rows if key in r]
        return Series(label, [r["step"] for r in logged], [r[key] for r in logged], color=color)

    phases = [k for k in sorted({k for r in rows for k in r}) if k.startswith("time/") and k.endswith("_s")]
    if phases:
        lines = [series(k, k[len("time/"):-2], PALETTE[i % len(PALETTE)]) for i, k in enumerate(phases)]
        out.append("<h3>seconds per step, by phase</h3><div class=\"charts\">"
                   + line_chart("seconds per step by phase (time/*_s)", lines, width=520) + "</div>")
    for group, keys in metric_groups(rows).items():
        charts = [line_chart(k, [series(k, k)]) for k in keys]
        out.append(f'<h3>{escape(group)}</h3><div class="charts" data-group="{escape(group)}">{"".join(charts)}</div>')
    return "\n".join(out)


def _eval_section(evals: dict | None) -> str:
    if not evals or not (evals.get("before") or evals.get("after")):
        return "<p>No held-out evaluation was recorded (eval.json is missing or empty).</p>"
    labelled = [(label, evals.get(key)) for key, label in (("before", "before training"), ("after", "after training"))]
    keys = sorted({k for _, res in labelled if res for k, v in res.items() if finite(v)},
                  key=lambda k: (k != "accuracy", k))
    rows = [[label] + [fmt(res[k]) if finite(res.get(k)) else "" for k in keys] for label, res in labelled if res]
    out = [table([""] + [escape(k) for k in keys], rows)]
    for label, res in labelled:
        examples = (res or {}).get("examples") or []
        if examples:
            items = "".join(
                f"<tr><td>{'correct' if ex.get('correct') else 'wrong'}</td><td>{escape(str(ex.get('prompt')))}</td>"
                f"<td>{escape(json.dumps(ex.get('answer'), ensure_ascii=False) if not isinstance(ex.get('answer'), str) else ex['answer'])}</td>"
                f"<td><pre>{escape(str(ex.get('completion', '')).strip())}</pre></td></tr>" for ex in examples)
            out.append(f"<details><summary>{len(examples)} held-out examples {label} (greedy)</summary>"
                       f"<table><thead><tr><th></th><th>prompt</th><th>reference</th><th>completion</th></tr>"
                       f"</thead><tbody>{items}</tbody></table></details>")
    return "\n".join(out)


def _environment_section(run_dir: Path) -> str:
    env, source = environment.of_run(run_dir)
    packages = env.get("packages") or {}
    cuda = env.get("cuda_devices")
    rows = [["python", escape(str(env.get("python")))]]
    rows += [[escape(name), escape(str(v))] for name, v in packages.items()]
    rows += [["rlvr source commit", escape(str(env.get("rlvr_commit") or "not a git checkout"))],
             ["platform", escape(str(env.get("platform")))], ["machine", escape(str(env.get("machine")))],
             ["CPUs", escape(str(env.get("cpus")))], ["memory (GiB)", escape(str(env.get("memory_gib")))],
             ["CUDA devices", escape(", ".join(cuda) if cuda else "none" if cuda == [] else
                                      "not checked (torch was not loaded)")],
             ["recorded at", escape(str(env.get("recorded_at")))]]
    return f'<p class="sub">{escape(source)}</p>' + table(["", ""], rows)


def _summary(run_dir: Path, history: list[dict], evals: dict | None) -> str:
    train_rows = [r for r in history if r.get("step", 0) > 0 and "reward/mean" in r]
    bits = []
    if train_rows:
        bits.append(f"{train_rows[-1]['step']} steps")
        first, last = train_rows[0].get("reward/mean"), train_rows[-1].get("reward/mean")
        if finite(first) and finite(last):
            bits.append(f"reward {fmt(first)} at step {train_rows[0]['step']} → {fmt(last)} at step "
                        f"{train_rows[-1]['step']}")
        seconds = [r["time/step_s"] for r in train_rows if finite(r.get("time/step_s"))]
        if seconds:
            bits.append(f"{sum(seconds) / len(seconds):.2f} s per step")
    before, after = (evals or {}).get("before"), (evals or {}).get("after")
    if before and after and finite(before.get("accuracy")) and finite(after.get("accuracy")):
        bits.append(f"held-out accuracy {before['accuracy']:.1%} → {after['accuracy']:.1%}")
    return " · ".join(bits)


def run_report(run_dir: str | Path, *, rollout_limit: int = 3000) -> str:
    """The whole page, as a string."""
    run_dir = Path(run_dir)
    history = read_jsonl(run_dir / "metrics.jsonl")
    samples = read_jsonl(run_dir / "samples.jsonl")
    evals = _read_json(run_dir / "eval.json")
    config = run_dir / "config.yaml"
    config_text = config.read_text(encoding="utf-8") if config.is_file() else "(no config.yaml in the run folder)"
    built = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    body = [f"<h1>Run report: {escape(run_dir.name)}</h1>",
            f'<p class="sub">{escape(str(run_dir.resolve()))} · built {built}</p>',
            f"<p>{escape(_summary(run_dir, history, evals))}</p>",
            '<nav class="sub"><a href="#eval">held-out evaluation</a> · <a href="#curves">curves</a> · '
            '<a href="#rollouts-section">rollouts</a> · <a href="#config">config</a> · '
            '<a href="#environment">environment</a></nav>',
            section("Held-out evaluation", _eval_section(evals), id="eval"),
            section("Curves", '<p class="sub">Every numeric key of metrics.jsonl, grouped by prefix; step 0 '
                    "is the evaluation before training. Hover a dot for its value.</p>" + _charts(history),
                    id="curves"),
            section("Rollouts", browser(samples, limit=rollout_limit), id="rollouts-section"),
            section("Config", f"<details><summary>config.yaml (resolved)</summary><pre>{escape(config_text)}</pre>"
                    "</details>", id="config"),
            section("Environment", f"<details open><summary>software and machine</summary>"
                    f"{_environment_section(run_dir)}</details>", id="environment")]
    return page(f"rlvr report: {run_dir.name}", "\n".join(body), script=True)
