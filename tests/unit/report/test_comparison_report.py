"""The comparison report from a synthetic `summary.json` in the contract `rlvr compare` writes
(the real one does not exist yet): the table, the paired tests, one line and one band per method
in each curve's chart against step and against tokens, and links to the runs' reports."""
import json

import pytest

from rlvr.report import NotAReportFolder, build_report
from rlvr.report.comparison import markdown_tables
from tests.report_dom import Dom

TABLE_MD = """\
| method | eval/accuracy | reward AUC | tokens |
|---|---|---|---|
| **grpo** | 0.410 [0.380, 0.440] | 7.1 | 12000 |
| dr_grpo | 0.455 [0.420, 0.490] | 7.9 | 11800 |
"""


def _curve(base: float, n: int = 5) -> dict:
    mean = [base + 0.05 * i for i in range(n)]
    return {"step": list(range(0, 2 * n, 2)), "tokens": [1000 * i for i in range(n)], "mean": mean,
            "lo": [m - 0.02 for m in mean], "hi": [m + 0.02 for m in mean]}


def _summary() -> dict:
    methods = []
    for i, name in enumerate(("grpo", "dr_grpo")):
        methods.append({
            "name": name, "algo": name, "overrides": {"optim.lr": 1e-5} if i else {},
            "runs": {str(s): f"runs/{name}/seed-{s}" for s in (0, 1, 2)},
            "final": {"eval/accuracy": {"mean": 0.41 + 0.045 * i, "ci": [0.38 + 0.04 * i, 0.44 + 0.05 * i],
                                        "values": [0.4, 0.41, 0.42]}},
            "curves": {"eval/accuracy": _curve(0.2 + 0.05 * i), "reward/mean": _curve(0.1 + 0.1 * i)},
            "paired": None if i == 0 else {"vs": "grpo", "metric": "eval/accuracy", "diff_mean": 0.045,
                                           "ci": [0.01, 0.08], "p_value": 0.03}})
    return {"spec": "compare.yaml", "out": "runs/cmp", "budget": {"steps": 10}, "seeds": [0, 1, 2],
            "methods": methods, "table_md": TABLE_MD, "plots": ["eval_accuracy_step.png"]}


@pytest.fixture
def comparison(tmp_path):
    folder = tmp_path / "cmp"
    (folder / "runs" / "grpo" / "seed-0").mkdir(parents=True)
    (folder / "runs" / "grpo" / "seed-0" / "report.html").write_text("<html></html>")
    (folder / "summary.json").write_text(json.dumps(_summary()))
    return folder


def test_table_paired_tests_and_links(comparison):
    html = build_report(comparison).read_text()
    dom = Dom(html)
    results = dom.tables[1]  # after the spec/budget/seeds table
    assert results[0] == ["method", "eval/accuracy", "reward AUC", "tokens"]
    assert results[1:] == [["grpo", "0.410 [0.380, 0.440]", "7.1", "12000"],
                           ["dr_grpo", "0.455 [0.420, 0.490]", "7.9", "11800"]]
    assert "<b>grpo</b>" in html  # **bold** of the Markdown
    paired = next(t for t in dom.tables if t[0][:2] == ["method", "against"])
    assert paired[1:] == [["dr_grpo", "grpo", "eval/accuracy", "0.045", "[0.01, 0.08]", "0.03"]]
    # a run with a report links to it, the others to their folder
    assert 'href="runs/grpo/seed-0/report.html"' in html and 'href="runs/grpo/seed-1"' in html
    assert not dom.external and dom.scripts == 0


def test_each_curve_against_step_and_tokens_has_a_line_and_band_per_method(comparison):
    dom = Dom(build_report(comparison).read_text())
    titles = [c.title for c in dom.charts]
    assert titles == [f"{m} against {axis}" for m in ("eval/accuracy", "reward/mean")
                      for axis in ("step", "generated tokens")]
    for chart in dom.charts:
        assert chart.polylines == 2 and chart.bands == 2 and chart.points == [5, 5], chart


def test_without_table_md_the_table_is_built_from_final(comparison):
    summary = _summary()
    del summary["table_md"]
    (comparison / "summary.json").write_text(json.dumps(summary))
    dom = Dom(build_report(comparison, comparison / "other.html").read_text())
    assert dom.tables[1][0] == ["method", "eval/accuracy"]
    assert dom.tables[1][2] == ["dr_grpo", "0.455 [0.42, 0.49]"]


def test_a_broken_summary_is_an_error_that_says_what_to_do(comparison):
    (comparison / "summary.json").write_text('{"methods": [')
    with pytest.raises(NotAReportFolder, match="rerun `rlvr compare`"):
        build_report(comparison)


def test_markdown_outside_tables_becomes_paragraphs_and_escaped_pipes_stay():
    html = markdown_tables("## Results\n\n| a | b |\n|:-:|--|\n| x \\| y | `z` |\n")
    assert html.startswith("<p>Results</p>")
    assert Dom(html).tables == [[["a", "b"], ["x | y", "z"]]] and "<code>z</code>" in html
