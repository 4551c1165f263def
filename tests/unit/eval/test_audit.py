import json

import pytest

from rlvr.cli import main
from rlvr.configtools import ConfigError
from rlvr.data.files import DataError
from rlvr.eval import audit as audit_mod
from rlvr.eval.audit import (Audit, AuditRow, audit_file, pair_stats, parse_verifiers, prompt_groups, read_rows,
                             render, shorten, verdict_records, verifier_stats)
from rlvr.verifiers import REGISTRY, Verdict

# (completion, reference, label) -> what strict and math say, by hand
ROWS = [
    ("so \\boxed{4}", "4", True),             # strict 1, math 1
    ("half: \\boxed{0.5}", "\\frac{1}{2}", True),  # strict 0, math 1 (0.5 = 1/2)
    ("\\boxed{x = 3}", "3", True),            # strict 0, math 1 (the equation's right side)
    ("\\boxed{5}", "6", False),               # strict 0, math 0
    ("\\boxed{12 cm}", "12", False),          # strict 0, math 1 (unit stripped): math's false positive
    ("the answer is 7", "7", None),           # strict 1, math 1, unlabelled
    ("7 + 1 = 8", "8", True),                 # strict 0, math 0: no box, no phrase
]
# accepts: strict {1, 6} = 2 of 7; math {1, 2, 3, 5, 6} = 5 of 7
# agree on rows 1, 4, 6, 7 = 4 of 7; strict accepts & math rejects: none; the reverse: rows 2, 3, 5
#   (2 labelled correct, 1 wrong)
# labelled rows 1-5 and 7 (6 rows, 4 correct):
#   strict: tp 1 (row 1), fp 0, fn 3 (rows 2, 3, 7) -> precision 1/1, recall 1/4
#   math:   tp 3 (rows 1-3), fp 1 (row 5), fn 1 (row 7) -> precision 3/4, recall 3/4
HOSTILE = [
    ("\\boxed{4\ud8002}", "42"),               # a lone surrogate
    ("\\boxed{" + "{" * 20_000, "1"),          # deeply nested, unclosed
    ("x" * 1_000_000 + " the answer is 41", "1"),  # a megabyte, wrong answer
]


def _write(path, rows):
    with open(path, "w") as fh:
        for completion, reference, *label in rows:
            row = {"prompt": "Q?", "completion": completion, "reference": reference}
            if label and label[0] is not None:
                row["label"] = label[0]
            fh.write(json.dumps(row) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("audit")
    path = _write(tmp / "rows.jsonl", ROWS)
    return audit_file(path, "strict,math", out=tmp / "out", workers=1, show=2)


def test_acceptance_and_label_statistics(scored):
    _, _, audit = scored
    strict, math = verifier_stats(audit)
    assert (strict["accepts"], math["accepts"]) == (2, 5)
    assert (strict["tp"], strict["fp"], strict["fn"], strict["tn"]) == (1, 0, 3, 2)
    assert (math["tp"], math["fp"], math["fn"], math["tn"]) == (3, 1, 1, 1)
    assert strict["precision"] == 1.0 and strict["recall"] == 0.25
    assert math["precision"] == 0.75 and math["recall"] == 0.75
    assert strict["errors"] == math["errors"] == 0


def test_pairwise_agreement_and_disagreement_cells(scored):
    _, _, audit = scored
    (pair,) = pair_stats(audit)
    assert (pair["a"], pair["b"], pair["agree"]) == ("strict", "math", 4)
    assert pair["agreement"] == pytest.approx(4 / 7)
    assert pair["a_only"] == [] and pair["b_only"] == [1, 2, 4]  # row indices (0-based) 2, 3, 5 above


def test_report_tables_and_examples(scored):
    report, out, _ = scored
    assert (out / "report.md").read_text() == report
    assert "| strict | 2 | 28.6% | 0 | 0 | 100.0% | 25.0% | 0 | 3 |" in report
    assert "| math | 5 | 71.4% | 0 | 0 | 75.0% | 75.0% | 1 | 1 |" in report
    assert "| strict | math | 4 | 57.1% | 0 | 3 (2 correct, 1 wrong) |" in report
    assert "### math accepts, strict rejects (3)" in report
    assert "… and 1 more (lines 5)" in report  # --show 2 of 3
    assert "### math: false positives (1)" in report and "`\\boxed{12 cm}`" in report


def test_verdicts_file_has_every_row(scored):
    _, out, _ = scored
    records = [json.loads(x) for x in (out / "verdicts.jsonl").read_text().splitlines()]
    assert [r["line"] for r in records] == list(range(1, 8))
    assert [r["verdicts"]["strict"]["reward"] for r in records] == [1, 0, 0, 0, 0, 1, 0]
    assert [r["verdicts"]["math"]["accept"] for r in records] == [True, True, True, False, True, True, False]
    assert records[1]["verdicts"]["math"]["info"] == {"answer": "0.5", "correct": True}
    assert records[5]["label"] is None


def _fake_audit(rewards: dict[str, list[float]], infos=None, labels=None, accept=0.5) -> Audit:
    n = len(next(iter(rewards.values())))
    labels = labels or [None] * n
    rows = [AuditRow(i + 1, f"c{i}", "r", label=labels[i]) for i in range(n)]
    infos = {name: (infos or {}).get(name) or [{}] * n for name in rewards}
    verdicts = [{name: Verdict(r[i], infos[name][i]) for name, r in rewards.items()} for i in range(n)]
    return Audit(rows, list(rewards), verdicts, accept)


def test_three_verifiers_give_three_pairs_and_threshold_applies():
    audit = _fake_audit({"a": [1, 0.4, 0.5, 0], "b": [1, 1, 0, 0], "c": [0, 0, 0, 0]})
    # accept at 0.5: a = [T, F, T, F], b = [T, T, F, F], c = all F
    pairs = {(p["a"], p["b"]): p for p in pair_stats(audit)}
    assert list(pairs) == [("a", "b"), ("a", "c"), ("b", "c")]
    assert (pairs["a", "b"]["agree"], pairs["a", "b"]["a_only"], pairs["a", "b"]["b_only"]) == (2, [2], [1])
    assert (pairs["a", "c"]["agree"], pairs["a", "c"]["a_only"]) == (2, [0, 2])
    strict = _fake_audit({"a": [1, 0.4, 0.5, 0]}, accept=1.0)
    assert verifier_stats(strict)[0]["accepts"] == 1  # only the reward of 1


def test_errors_timeouts_and_undefined_precision():
    audit = _fake_audit({"a": [0, 0, 0]}, infos={"a": [{"error": "timeout"}, {"error": "ValueError: x"}, {}]},
                        labels=[True, False, None])
    (s,) = verifier_stats(audit)
    assert (s["errors"], s["timeouts"]) == (2, 1)
    assert s["precision"] is None and s["recall"] == 0.0  # nothing accepted; 1 correct row missed
    report = render(audit)
    assert "| a | 0 | 0.0% | 2 | 1 | – | 0.0% | 0 | 1 |" in report
    assert "## Agreement" not in report  # one verifier: no pairs


def test_report_survives_hostile_text():
    audit = _fake_audit({"a": [1, 0], "b": [0, 1]}, infos={"a": [{"answer": "4\ud8002"}, {}], "b": [{}, {}]})
    audit.rows[0] = AuditRow(1, "\\boxed{4\ud8002} | ``` " + "x" * 10_000, "`42`")
    report = render(audit)
    report.encode("utf-8")  # no lone surrogate left
    # `\boxed{4` 8 + `\ud800` 6 (escaped) + `2} | ``` ` 9 + 10,000 = 10,023 chars, 160 shown
    assert "\\ud800" in report and "[9863 chars]" in report
    assert "\\|" in report  # a pipe cannot break the table
    json.dumps(verdict_records(audit))
    assert len(shorten("y" * 1000)) < 200


MALFORMED = [
    # (line 2 of the file, what the error says)
    ("not json", "invalid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"reference": "1"}', "'completion' must be a string"),
    ('{"completion": 5, "reference": "1"}', "'completion' must be a string"),
    ('{"completion": "x"}', "'reference' is missing"),
    ('{"completion": "x", "reference": null}', "'reference' is missing"),
    ('{"completion": "x", "reference": "1", "label": "yes"}', "'label' must be true, false or null"),
    ('{"completion": "x", "reference": "1", "label": 1}', "'label' must be true, false or null"),
    ('{"completion": "x", "reference": "1", "meta": [1]}', "'meta' must be an object"),
    ('{"completion": "x", "reference": "1", "prompt": ["hi"]}', "'prompt' must be a string"),
]


@pytest.mark.parametrize("line, message", MALFORMED)
def test_malformed_row_names_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"completion": "\\\\boxed{1}", "reference": 1}\n' + line + "\n")
    with pytest.raises(DataError, match=message) as e:
        read_rows(path)
    assert f"{path}:2" in str(e.value)


def test_rows_keep_their_fields_and_skip_blank_lines(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('\n{"completion": "c", "reference": 3, "prompt": "Q", "label": false, "meta": {"k": 1},'
                    ' "note": "n"}\n\n')
    (row,) = read_rows(path)
    assert row == AuditRow(2, "c", 3, "Q", False, {"k": 1}, {"note": "n"})
    # a run's samples.jsonl: the reference is `answer`, the prompt a chat
    path.write_text(json.dumps({"prompt": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}],
                                "answer": "4", "completion": "c", "reward": 1.0}) + "\n"
                    + json.dumps({"completion": "c", "reference": "1", "answer": "2"}) + "\n")
    first, second = read_rows(path)
    assert first == AuditRow(1, "c", "4", "Q", None, {}, {"reward": 1.0})
    assert (second.reference, second.extra) == ("1", {"answer": "2"})
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(DataError, match="no rows"):
        read_rows(tmp_path / "empty.jsonl")
    bad = tmp_path / "latin1.jsonl"
    bad.write_bytes(b'{"completion": "\xe9", "reference": 1}\n')
    with pytest.raises(DataError, match=f"{bad}:1: not valid UTF-8"):
        read_rows(bad)


BAD_VERIFIERS = [
    # (--verifiers, --options, what the error says)
    ("strict,nope", [], "unknown verifier 'nope'"),
    ("rlvr.verifiers.strict:Nope", [], "cannot import verifier"),
    ("", [], "at least one"),
    ("math,math", [], "twice"),
    ("math", ["strict={normalize: false}"], "NAME among"),
    ("math", ["math=[1, 2]"], "not a YAML mapping"),
    ("math", ["math={colour: red}"], "colour"),
    ("math", ["math={model: policy}"], "an audit trains none"),
]
if "judge" in REGISTRY:  # its default model is the policy, which an audit lacks
    BAD_VERIFIERS.append(("judge", [], "judge={model: smollm2-135m-instruct}"))


def test_parse_verifiers_merges_options():
    assert parse_verifiers("strict, math", ["math={answer_pattern: '(\\d+)'}", "math={timeout_s: 2}"]) == [
        ("strict", {}), ("math", {"answer_pattern": "(\\d+)", "timeout_s": 2})]
    assert parse_verifiers("rlvr.verifiers.strict:StrictVerifier") == [("rlvr.verifiers.strict:StrictVerifier", {})]


@pytest.mark.parametrize("names, options, message", BAD_VERIFIERS)
def test_bad_verifier_choices_are_config_errors(names, options, message):
    with pytest.raises(ConfigError, match=message):
        parse_verifiers(names, options)


def test_groups_metas_and_chunks_reach_the_reward_function(monkeypatch):
    """Rows sharing prompt and reference in a run form one group; a chunk never splits one;
    every meta carries the row's prompt."""
    calls = []

    class FakeReward:
        def __init__(self, specs, **kwargs):
            self.names = [s[0] for s in specs]

        def __call__(self, completions, references, metas, groups):
            calls.append((list(completions), metas, groups))
            return type("S", (), {"verdicts": [{n: Verdict(1.0) for n in self.names} for _ in completions]})

        def close(self):
            pass

    monkeypatch.setattr(audit_mod, "RewardFunction", FakeReward)
    monkeypatch.setattr(audit_mod, "CHUNK_ROWS", 3)
    rows = [AuditRow(i, f"c{i}", ref, prompt=p, meta={"k": i}) for i, (p, ref) in
            enumerate([("p", 1), ("p", 1), ("p", 2), ("q", 2), ("q", 2), ("q", 2), ("p", 1)])]
    assert prompt_groups(rows) == [2, 1, 3, 1]
    audit = audit_mod.score(rows, [("strict", {})])
    # chunks fill to at least 3 rows with whole groups: [2, 1] then [3] then [1]
    assert [c[2] for c in calls] == [[2, 1], [3], [1]]
    assert [c for call in calls for c in call[0]] == [f"c{i}" for i in range(7)]
    assert calls[0][1][2] == {"k": 2, "prompt": "p"}
    assert len(audit.verdicts) == 7


def test_cli_end_to_end(tmp_path, capsys):
    path = _write(tmp_path / "rows.jsonl", ROWS + HOSTILE)
    out = tmp_path / "audit"
    assert main(["audit", "verifier", path, "--verifiers", "strict,math", "--out", str(out), "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    report = (out / "report.md").read_text()
    assert printed == report
    # the hostile rows are rejected by both: accepts stay 2 and 5 of 10, agreement 7 of 10
    assert "10 rows, 6 labelled" in report
    assert "| strict | 2 | 20.0% | 0 | 0 | 100.0% | 25.0% | 0 | 3 |" in report
    assert "| strict | math | 7 | 70.0% | 0 | 3 (2 correct, 1 wrong) |" in report
    records = [json.loads(x) for x in (out / "verdicts.jsonl").read_text().splitlines()]
    assert len(records) == 10 and all(set(r["verdicts"]) == {"strict", "math"} for r in records)
    assert records[9]["completion"].endswith("the answer is 41") and len(records[9]["completion"]) < 500


def test_cli_errors_name_the_problem(tmp_path, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"completion": "x", "reference": "1"}\n{"completion": "x"}\n')
    assert main(["audit", "verifier", str(path), "--out", str(tmp_path / "o")]) == 2
    assert f"{path}:2" in capsys.readouterr().err
    assert main(["audit", "verifier", str(path), "--verifiers", "strict,mathh"]) == 2
    assert "unknown verifier 'mathh'" in capsys.readouterr().err
    assert main(["audit", "verifier", str(path), "--accept", "nan"]) == 2
    assert "--accept" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
