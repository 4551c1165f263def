"""The run report's HTML, read back with html.parser from a synthetic run folder: a chart for
every numeric metric, gaps where a value is missing, the rollout rows with their verdicts and
token colouring, nothing fetched from outside the file, and `rlvr train`'s end-of-run hook."""
import json
import math
import subprocess

import pytest

import rlvr.report
from rlvr.report import NotAReportFolder, build_report, environment
from rlvr.report.svg import Series, line_chart, nice_ticks
from rlvr.runlog import write_report
from tests.conftest import rlvr_cmd
from tests.report_dom import Dom

STEPS = 4


def _metrics() -> list[dict]:
    rows = [{"step": 0, "eval/accuracy": 0.25, "eval/problems": 16, "eval/mean_length": 3.0}]
    for s in range(1, STEPS + 1):
        rows.append({"step": s, "reward/mean": 0.1 * s, "accuracy": 0.1 * s, "entropy": 1.0 / s,
                     "length/mean": 10.0 + s, "clip_frac": None if s == 2 else 0.01 * s, "approx_kl": 0.001 * s,
                     "mismatch/logp_abs_diff": 0.02, "time/generate_s": 1.5, "time/update_s": 0.5,
                     "time/step_s": 2.0, "update/skipped": 0.0, "lr": 1e-5, "note": "text is not charted"})
    rows[-1].update({"eval/accuracy": 0.5, "eval/problems": 16, "eval/mean_length": 3.5})
    return rows


def _samples() -> list[dict]:
    rows = []
    for s in range(1, STEPS + 1):
        for j, reward in enumerate((0.0, 1.0)):
            row = {"step": s, "prompt": f"What is {s} + {j}?", "answer": str(s + j), "completion": f"{s + j}",
                   "reward": reward, "advantage": reward - 0.5, "finish_reason": "stop",
                   "verifiers": {"math": {"reward": reward, "extracted": str(s + j), "why": "boxed <b>"}}}
            if s == 3:  # per-token fields, as the rows get them when train.py records them
                row.update({"tokens": [str(s), " + ", "end"], "token_logprobs": [-0.01, -2.5, -9.0],
                            "token_entropies": [0.1, 1.2, 3.0]})
            rows.append(row)
    return rows


@pytest.fixture
def run_folder(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("run:\n  name: synthetic\n  steps: 4\n")
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _metrics()))
    (run / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _samples()) + '{"step": 5, "pro')
    (run / "eval.json").write_text(json.dumps({
        "before": {"accuracy": 0.25, "problems": 16, "mean_length": 3.0,
                   "examples": [{"prompt": "1 + 1", "answer": "2", "completion": "3", "correct": False}]},
        "after": {"accuracy": 0.5, "problems": 16, "mean_length": 3.5, "examples": []}}))
    return run


def test_every_numeric_metric_gets_a_chart_grouped_by_prefix(run_folder):
    html = build_report(run_folder).read_text()
    dom = Dom(html)
    numeric = {k for r in _metrics() for k, v in r.items() if k != "step" and isinstance(v, float | int)}
    phases = "seconds per step by phase (time/*_s)"
    assert {c.title for c in dom.charts} == numeric | {phases}
    assert 'data-group="eval"' in html and 'data-group="train"' in html and 'data-group="mismatch"' in html
    assert dom.chart("reward/mean").points == [STEPS]  # one line through steps 1-4
    assert dom.chart("eval/accuracy").points == [2]  # steps 0 and 4 only
    clip = dom.chart("clip_frac")  # None at step 2 breaks the line: step 1 alone is a dot, 3-4 a line
    assert clip.points == [2] and clip.circles == 3
    assert dom.chart(phases).polylines == 3  # generate, update, step
    assert not dom.external, dom.external


def test_rollout_rows_hold_verdicts_and_colour_tokens_where_present(run_folder):
    dom = Dom((build_report(run_folder)).read_text())
    samples = _samples()
    assert [(r.step, r.reward) for r in dom.rollouts] == [(s["step"], s["reward"]) for s in samples]  # cut line left out
    assert not any(r.hidden for r in dom.rollouts) and dom.ids["shown"] == str(len(samples))
    assert [r.tokens for r in dom.rollouts] == [3 if s["step"] == 3 else 0 for s in samples]
    assert "boxed <b>" in dom.rollouts[0].text  # verifier info, escaped, not markup
    html = (run_folder / "report.html").read_text()
    # -2.5 / -6 → shade 0.42; -9 is past the floor → 1; entropy 1.2 / 4 → 0.30
    assert 'style="--lp:0.42;--en:0.30" title="log-prob -2.5 (p 0.082), entropy 1.2"' in html
    assert "--lp:1.00;--en:0.75" in html
    assert 'id="f-colour"' in html and '<option value="entropy">' in html


def test_without_token_fields_there_is_no_colouring_control(run_folder):
    rows = [r for r in _samples() if "tokens" not in r]
    (run_folder / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    html = build_report(run_folder).read_text()
    assert 'id="f-colour"' not in html and "no per-token log-probs" in html
    assert len(Dom(html).rollouts) == len(rows)


def test_config_is_collapsible_and_environment_says_where_it_came_from(run_folder):
    html = build_report(run_folder).read_text()
    assert "<details><summary>config.yaml (resolved)</summary><pre>run:\n  name: synthetic" in html
    assert "has no environment.json" in html and "the environment the report was built in" in html
    environment.record(run_folder)
    recorded = json.loads((run_folder / "environment.json").read_text())
    assert recorded["packages"]["torch"] and recorded["python"].count(".") == 2
    html = build_report(run_folder).read_text()
    assert "recorded by rlvr train at the end of the run" in html and recorded["packages"]["torch"] in html


def test_end_of_run_writes_report_html_and_a_failure_only_warns(run_folder, monkeypatch, capsys):
    args = dict(config_yaml="run: {}\n", before=None, after=None, history=_metrics()[1:], seconds=8.0, checkpoint=None)
    write_report(run_folder, **args)
    assert (run_folder / "report.md").is_file() and (run_folder / "environment.json").is_file()
    assert len(Dom((run_folder / "report.html").read_text()).rollouts) == len(_samples())
    (run_folder / "report.html").unlink()

    def broken(run_dir):
        raise KeyError("boom")

    monkeypatch.setattr(rlvr.report, "write_run_html", broken)
    md = write_report(run_folder, **args)
    assert md.read_text().startswith("# Run report: run") and not (run_folder / "report.html").exists()
    assert "warning: could not write" in capsys.readouterr().err


def test_the_command_writes_the_file_and_refuses_other_folders(run_folder, tmp_path):
    out = tmp_path / "elsewhere.html"
    proc = subprocess.run(rlvr_cmd() + ["report", str(run_folder), "--out", str(out)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"wrote {out}" in proc.stdout and len(Dom(out.read_text()).charts) > 10
    with pytest.raises(NotAReportFolder, match="neither a run folder"):
        build_report(tmp_path / "empty")


def test_charts_draw_nothing_without_a_value_and_flat_lines_stay_visible():
    assert line_chart("x", [Series("x", [1, 2], [None, math.nan])]) == ""
    flat = Dom(line_chart("flat", [Series("flat", [1, 2, 3], [5.0, 5.0, 5.0])])).chart("flat")
    assert flat.points == [3] and flat.circles == 3
    # about 4 ticks at 1, 2 or 5 × 10^k inside the range: a span of 1 → 0.25 → 0.5; 0.52 → 0.13 → 0.2
    assert nice_ticks(0.0, 1.0) == [0.0, 0.5, 1.0]
    assert nice_ticks(-0.05, 0.47) == [0.0, 0.2, 0.4]
    assert nice_ticks(0.1, 0.7) == [0.2, 0.4, 0.6]  # 0.6 exactly, not 0.6000000000000001
