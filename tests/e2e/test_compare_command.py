"""`rlvr compare` through the real command (issue 13 §2's acceptance): two presets × 2 seeds ×
2 steps of the tiny model give summary.json, table.md and the plots; a second invocation reuses
the finished runs without training; a run whose final checkpoint was deleted is resumed to the
same numbers; a run folder trained with another config is refused."""
import json
import shutil
import subprocess
import time

import pytest
import yaml

from tests.conftest import rlvr_cmd

KS = [1, 2]


def _spec(path, tiny_config_path, lr=None):
    fast = {"name": "dr_grpo", "algo": "dr_grpo", **({"overrides": {"optim.lr": lr}} if lr else {})}
    path.write_text(yaml.safe_dump({
        "task": {"config": tiny_config_path,
                 "overrides": {"eval": {"size": 8}, "run": {"save_every": 1, "trackers": []}}},
        "methods": [{"name": "grpo", "algo": "grpo"}, fast],
        "budget": {"steps": 2}, "seeds": [0, 1], "eval": {"k": KS, "n": 4}}))
    return str(path)


def _compare(spec, out, *extra):
    t = time.time()
    proc = subprocess.run(rlvr_cmd() + ["compare", spec, "--out", str(out), "--allow-few-seeds", "--no-progress",
                                        *extra], capture_output=True, text=True, timeout=600)
    return proc, time.time() - t


def _logged_commands(out):
    return {p.name: p.read_text().count("$ rlvr train") for p in (out / "logs").iterdir()}


@pytest.fixture(scope="module")
def compared(tmp_path_factory, tiny_config_path):
    root = tmp_path_factory.mktemp("compare")
    spec, out = _spec(root / "spec.yaml", tiny_config_path), root / "out"
    proc, seconds = _compare(spec, out, "--jobs", "2")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return spec, out, proc, seconds


def test_the_comparison_writes_the_summary_the_table_and_the_plots(compared):
    _, out, proc, _ = compared
    summary = json.loads((out / "summary.json").read_text())
    assert {"spec", "out", "budget", "seeds", "methods", "table_md", "plots"} <= set(summary)
    assert summary["budget"] == {"steps": 2} and summary["seeds"] == [0, 1]
    assert [m["name"] for m in summary["methods"]] == ["grpo", "dr_grpo"]
    for m in summary["methods"]:
        assert m["runs"] == {"0": f"runs/{m['name']}/seed-0", "1": f"runs/{m['name']}/seed-1"}
        for metric in ("eval/accuracy", "reward/auc", "length/mean", "entropy", "time/train_s", "tokens/generated",
                       *(f"pass@{k}" for k in KS)):
            entry = m["final"][metric]
            assert len(entry["values"]) == 2 and entry["ci"][0] <= entry["mean"] <= entry["ci"][1], (metric, entry)
        for seed, rel in m["runs"].items():
            run = out / rel
            rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
            train = [r for r in rows if r["step"] > 0]
            # the final numbers are the run's own: its evaluation after training, its reward and token rows
            assert m["final"]["eval/accuracy"]["values"][int(seed)] == json.loads((run / "eval.json").read_text())[
                "after"]["accuracy"]
            assert m["final"]["reward/auc"]["values"][int(seed)] == pytest.approx(
                (train[0]["reward/mean"] + train[1]["reward/mean"]) / 2)
            tokens = sum(round(r["tokens/generated_per_s"] * r["time/generate_s"]) for r in train)
            assert m["final"]["tokens/generated"]["values"][int(seed)] == tokens
            assert 2 * 4 * 8 <= tokens <= 2 * 4 * 8 * 3  # 2 steps × 4 prompts × 8 completions × 1..3 tokens
            assert json.loads((run / "passk.json").read_text())["model_path"] == str(run / "checkpoints" / "step-2")
            assert yaml.safe_load((run / "config.yaml").read_text())["run"]["seed"] == int(seed)
        curve = m["curves"]["reward/mean"]
        assert curve["step"] == [1, 2] and len(curve["tokens"]) == len(curve["mean"]) == len(curve["lo"]) == 2
        assert m["curves"]["eval/accuracy"]["step"] == [0, 2]  # before and after training
    grpo, dr = summary["methods"]
    assert grpo["paired"] is None and dr["paired"]["vs"] == "grpo" and dr["paired"]["metric"] == "eval/accuracy"
    diffs = [a - b for a, b in zip(dr["final"]["eval/accuracy"]["values"], grpo["final"]["eval/accuracy"]["values"])]
    assert dr["paired"]["diff_mean"] == pytest.approx(sum(diffs) / 2) and 0.0 <= dr["paired"]["p_value"] <= 1.0
    # the table: a row per method, printed and written
    table = (out / "table.md").read_text()
    assert table == summary["table_md"] and table.strip() in proc.stdout
    rows = [line for line in table.splitlines() if line.startswith("| grpo") or line.startswith("| dr_grpo")]
    assert len(rows) == 2 and "pass@2 (%)" in table and "Student t" in table and "p = " in rows[1]
    # the plots: every curve by step and by tokens, real PNGs
    assert len(summary["plots"]) == 8 and "plots/eval_accuracy-by-tokens.png" in summary["plots"]
    for rel in summary["plots"]:
        assert (out / rel).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the comparison's HTML report, written at the end, draws the curves and links every run's own
    page = (out / "report.html").read_text()
    assert f"wrote {out / 'report.html'}" in proc.stdout and page.count("<svg") >= 8
    for m in summary["methods"]:
        assert m["name"] in page
        for rel in m["runs"].values():
            assert (out / rel / "report.html").is_file() and f"{rel}/report.html" in page


def test_a_second_invocation_reuses_the_finished_runs(compared):
    spec, out, _, first_seconds = compared
    before = _logged_commands(out)
    summary = (out / "summary.json").read_text()
    proc, seconds = _compare(spec, out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("reused (finished)") == 4 and "trained" not in proc.stdout
    assert _logged_commands(out) == before  # no `rlvr train` was started
    assert seconds < first_seconds / 2
    assert json.loads((out / "summary.json").read_text())["methods"] == json.loads(summary)["methods"]


def test_a_deleted_final_checkpoint_is_resumed_to_the_same_numbers(compared):
    spec, out, _, _ = compared
    run = out / "runs" / "dr_grpo" / "seed-1"
    old = json.loads((out / "summary.json").read_text())["methods"][1]["final"]
    shutil.rmtree(run / "checkpoints" / "step-2")
    proc, _ = _compare(spec, out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "runs/dr_grpo/seed-1: resumed, pass@k evaluated" in proc.stdout and proc.stdout.count("reused") == 3
    assert "from step-1" in (out / "logs" / "dr_grpo-seed-1.log").read_text()
    new = json.loads((out / "summary.json").read_text())["methods"][1]["final"]
    for metric in ("eval/accuracy", "reward/auc", "length/mean", "entropy", "tokens/generated", "pass@1", "pass@2"):
        assert new[metric]["values"] == pytest.approx(old[metric]["values"]), metric  # the exact resume


def test_a_run_folder_of_another_config_is_refused_before_anything_runs(compared, tiny_config_path):
    _, out, _, _ = compared
    other = _spec(out.parent / "other.yaml", tiny_config_path, lr=0.5)
    before = _logged_commands(out)
    proc, _ = _compare(other, out)
    assert proc.returncode == 2
    assert "runs/dr_grpo/seed-0: optim.lr: 0.003 there, 0.5 here" in proc.stderr
    assert "pick another --out" in proc.stderr and _logged_commands(out) == before
