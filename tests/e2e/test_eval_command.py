"""`rlvr eval` through the real command on a checkpoint of a tiny run: the table with its
intervals, the per-problem JSONL agreeing with the summary, `runs/x@step`, rg: tasks, data files."""
import json
import subprocess

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rlvr.cli import main
from tests.conftest import rlvr_cmd

QUICK = ["--run.progress=false", "--run.steps=2", "--run.save_every=1", "--eval.size=4"]


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_config_path):
    out = tmp_path_factory.mktemp("eval") / "demo"
    assert main(["train", tiny_config_path, "--out", str(out), *QUICK]) == 0
    return out


def test_eval_prints_intervals_and_writes_per_problem_rows_that_add_up(run, tmp_path):
    rows_file, res = tmp_path / "problems.jsonl", tmp_path / "eval.json"
    proc = subprocess.run(rlvr_cmd() + ["eval", "--model", f"{run}@1", "--k", "1,2,4", "--n", "6", "--size", "12",
                                        "--per-problem", str(rows_file), "--json", str(res), "--no-progress"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert f"({run / 'checkpoints' / 'step-1'})" in out and "using the prompt format" in out  # runs/x@1 → step-1
    data = json.loads(res.read_text())
    assert data["model_path"] == str(run / "checkpoints" / "step-1") and data["problems"] == 12 and data["n"] == 6
    rows = [json.loads(line) for line in rows_file.read_text().splitlines()]
    assert [r["index"] for r in rows] == list(range(12))
    # the summary is the mean of the rows, metric by metric
    assert data["accuracy"] == pytest.approx(sum(r["greedy_correct"] for r in rows) / 12)
    assert data["mean_length"] == pytest.approx(sum(r["greedy_length"] for r in rows) / 12)
    for k in (1, 2, 4):
        assert data[f"pass@{k}"] == pytest.approx(sum(r[f"pass@{k}"] for r in rows) / 12)
        assert data[f"maj@{k}"] == pytest.approx(sum(r[f"maj@{k}"] for r in rows) / 12)
    assert data["pass@1"] == pytest.approx(sum(r["c"] for r in rows) / (12 * 6))  # pass@1 = c/n per problem
    assert all(r["n"] == 6 and 0 <= r["c"] <= 6 and sum(c["size"] for c in r["clusters"]) <= 6 for r in rows)
    # every metric has its interval around it; greedy accuracy both the Wilson and the bootstrap one
    assert set(data["intervals"]["accuracy"]) == {"Wilson", "bootstrap"}
    for metric, methods in data["intervals"].items():
        for low, high in methods.values():
            assert low <= data[metric] <= high, (metric, low, data[metric], high)
    # the table: each number printed beside its interval
    lo, hi = data["intervals"]["accuracy"]["Wilson"]
    line = next(x for x in out.splitlines() if x.startswith("greedy accuracy"))
    assert f"{data['accuracy']:.1%}" in line and f"[{lo:.1%}, {hi:.1%}]" in line and "Wilson" in line
    for k in (1, 2, 4):
        lo, hi = data["intervals"][f"maj@{k}"]["bootstrap"]
        line = next(x for x in out.splitlines() if x.startswith(f"maj@{k} "))
        assert f"{data[f'maj@{k}']:.1%}" in line and f"[{lo:.1%}, {hi:.1%}]" in line and "B=1000" in line


def test_k_above_n_and_a_missing_step_are_refused_before_the_model_loads(run, capsys):
    assert main(["eval", "--model", f"{run}@1", "--k", "8", "--n", "4"]) == 2
    assert "'--n' (4) must be at least the largest k (8)" in capsys.readouterr().err
    assert main(["eval", "--model", f"{run}@9"]) == 2
    assert "no checkpoint" in (err := capsys.readouterr().err) and "step-1, step-2" in err


def test_reasoning_gym_tasks_evaluate_and_json_alone_goes_to_stdout(run, capsys):
    # the run trained on arithmetic with `math`: an rg: evaluation switches to reasoning_gym's scorer
    assert main(["eval", "--model", str(run), "--data", "rg:chain_sum", "--k", "2", "--size", "4", "--json",
                 "--no-progress"]) == 0
    got = capsys.readouterr()
    data = json.loads(got.out)  # stdout holds the JSON alone
    assert data["model_path"] == str(run / "checkpoints" / "step-2")  # a run folder: its newest checkpoint
    assert data["problems"] == 4 and "chain_sum/accuracy" in data["intervals"] and "maj@2" in data
    assert "reasoning_gym verifier" in got.err and "greedy accuracy" in got.err


ROWS = [{"prompt": f"What is {a} + {b}?", "answer": str(a + b)} for a in (0, 1) for b in (0, 1, 1)]


@pytest.mark.parametrize("suffix", ["jsonl", "json", "parquet", "arrow"])
def test_every_file_format_of_the_data_loader_evaluates(run, tmp_path, capsys, suffix):
    path = tmp_path / f"rows.{suffix}"
    table = pa.Table.from_pylist(ROWS)
    if suffix == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    elif suffix == "json":
        path.write_text(json.dumps(ROWS))
    elif suffix == "parquet":
        pq.write_table(table, path)
    else:
        with pa.ipc.new_stream(path, table.schema) as writer:
            writer.write_table(table)
    assert main(["eval", "--model", f"{run}@2", "--data", str(path), "--size", "0", "--k", "", "--json",
                 "--no-progress"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["problems"] == 6 and set(data["intervals"]) == {"accuracy", "mean_length"}
