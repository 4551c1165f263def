"""The report of a comparison folder written by `rlvr compare`, read from its `summary.json`:

    {"spec", "out", "budget", "seeds": [...],
     "methods": [{"name", "algo", "overrides", "runs": {"<seed>": "runs/<method>/seed-<s>"},
                  "final": {"<metric>": {"mean", "ci": [lo, hi], "values": [...]}},
                  "curves": {"<metric>": {"step", "tokens", "mean", "lo", "hi"}},
                  "paired": {"vs", "metric", "diff_mean", "ci", "p_value"} | null}],
     "table_md": "...", "plots": [...]}

It shows the table (`table_md`, as HTML), the paired tests, the methods with links to their runs'
reports, and each curve against step and against generated tokens: one line per method (the mean
over seeds) with its confidence band.
"""
from __future__ import annotations

import datetime
import json
import re
from html import escape
from pathlib import Path

from rlvr.report.page import page, section, table
from rlvr.report.svg import PALETTE, Series, finite, fmt, line_chart


def _inline(text: str) -> str:
    """The Markdown a table cell of ours holds: **bold** and `code`; everything else is text."""
    out = escape(text.strip())
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", out)


def markdown_tables(md: str) -> str:
    """Pipe tables as <table>, other non-empty lines as paragraphs (the shape of `table_md`)."""
    out, block = [], []

    def flush():
        if not block:
            return
        cells = [[c for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))] for line in block]
        body = [row for row in cells[1:] if not all(re.fullmatch(r"\s*:?-+:?\s*", c) for c in row)]
        out.append(table([_inline(c) for c in cells[0]], [[_inline(c.replace("\\|", "|")) for c in row]
                                                          for row in body]))
        block.clear()

    for line in md.splitlines():
        if line.strip().startswith("|"):
            block.append(line)
            continue
        flush()
        if line.strip():
            out.append(f"<p>{_inline(line.lstrip('# '))}</p>")
    flush()
    return "\n".join(out)


def _ci(ci) -> str:
    return f"[{fmt(ci[0])}, {fmt(ci[1])}]" if isinstance(ci, (list, tuple)) and len(ci) == 2 and all(
        finite(v) for v in ci) else ""


def _paired(methods: list[dict]) -> str:
    rows = [[escape(m["name"]), escape(str(p.get("vs"))), escape(str(p.get("metric"))),
             fmt(p["diff_mean"]) if finite(p.get("diff_mean")) else "", _ci(p.get("ci")),
             fmt(p["p_value"]) if finite(p.get("p_value")) else ""]
            for m in methods if isinstance(p := m.get("paired"), dict)]
    if not rows:
        return ""
    return "<h3>Paired tests (same seeds)</h3>" + table(
        ["method", "against", "metric", "mean difference", "95% interval", "p-value"], rows)


def _final_table(methods: list[dict]) -> str:
    """Built from `final` when `table_md` is absent."""
    metrics = sorted({k for m in methods for k in (m.get("final") or {})})
    rows = [[escape(m["name"])] + [
        (f"{fmt(f['mean'])} {_ci(f.get('ci'))}" if finite((f := (m.get("final") or {}).get(k) or {}).get("mean"))
         else "") for k in metrics] for m in methods]
    return table(["method"] + [escape(k) for k in metrics], rows)


def _methods(folder: Path, methods: list[dict]) -> str:
    rows = []
    for m in methods:
        links = []
        for seed, run in sorted((m.get("runs") or {}).items(), key=lambda kv: str(kv[0])):
            report = folder / run / "report.html"
            target = f"{run}/report.html" if report.is_file() else run
            links.append(f'<a href="{escape(target)}">seed {escape(str(seed))}</a>')
        rows.append([escape(m["name"]), escape(str(m.get("algo", ""))),
                     f"<code>{escape(json.dumps(m.get('overrides') or {}, ensure_ascii=False))}</code>",
                     " ".join(links)])
    return table(["method", "algo", "overrides", "runs"], rows)


def _curves(methods: list[dict]) -> str:
    metrics = list(dict.fromkeys(k for m in methods for k in (m.get("curves") or {})))
    if not metrics:
        return "<p>summary.json holds no curves.</p>"
    out = []
    for metric in metrics:
        charts = []
        for axis, label in (("step", "step"), ("tokens", "generated tokens")):
            series = []
            for i, m in enumerate(methods):
                c = (m.get("curves") or {}).get(metric)
                if not c or not c.get(axis):
                    continue
                series.append(Series(m["name"], c[axis], c.get("mean") or [], c.get("lo"), c.get("hi"),
                                     color=PALETTE[i % len(PALETTE)]))
            if series:
                charts.append(line_chart(f"{metric} against {label}", series, x_label=label, width=440,
                                         height=240))
        out.append(f'<h3>{escape(metric)}</h3><div class="charts" data-metric="{escape(metric)}">{"".join(charts)}'
                   "</div>")
    return "\n".join(out)


def comparison_report(folder: str | Path, summary: dict) -> str:
    folder = Path(folder)
    methods = [m for m in summary.get("methods") or [] if isinstance(m, dict) and "name" in m]
    seeds = ", ".join(str(s) for s in summary.get("seeds") or [])
    budget = summary.get("budget")
    built = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    head = [f"<h1>Comparison: {escape(folder.name)}</h1>",
            f'<p class="sub">{escape(str(folder.resolve()))} · built {built}</p>',
            table(["", ""], [["spec", escape(str(summary.get("spec", "")))],
                             ["budget", escape(json.dumps(budget) if not isinstance(budget, str) else budget)],
                             ["seeds", escape(seeds)], ["methods", escape(", ".join(m["name"] for m in methods))]])]
    table_html = markdown_tables(summary["table_md"]) if summary.get("table_md") else _final_table(methods)
    body = head + [
        section("Results", '<p class="sub">Mean over seeds with its 95% interval, as rlvr compare computed it.</p>'
                + table_html + _paired(methods), id="results"),
        section("Curves", '<p class="sub">Mean over seeds, shaded: the 95% band.</p>' + _curves(methods),
                id="curves"),
        section("Methods", _methods(folder, methods), id="methods"),
        section("summary.json", "<details><summary>the whole file</summary><pre>"
                f"{escape(json.dumps(summary, indent=1, ensure_ascii=False))}</pre></details>", id="summary")]
    return page(f"rlvr comparison: {folder.name}", "\n".join(body))
