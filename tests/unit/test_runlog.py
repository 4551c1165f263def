"""Run logs cut by a kill or a full disk never block a resume (issue 9 item 4)."""
import json

from rlvr.runlog import RunLog


def _write(path, rows, tail: bytes = b""):
    path.write_bytes(b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in rows) + tail)


def test_rows_cut_mid_row_and_mid_utf8_character_are_dropped_on_resume(tmp_path, capsys):
    """The probe: a samples.jsonl cut inside 'é' (0xC3 0xA9 → 0xC3) made resume raise
    UnicodeDecodeError; a metrics.jsonl cut mid-row was read line by line as JSON."""
    metrics, samples = tmp_path / "metrics.jsonl", tmp_path / "samples.jsonl"
    _write(metrics, [{"step": s, "reward/mean": 0.1 * s} for s in range(1, 8)], b'{"step": 8, "rew')
    _write(samples, [{"step": s, "completion": "café"} for s in range(1, 8)],
           '{"step": 8, "completion": "caf'.encode() + "é".encode()[:1])
    log = RunLog(tmp_path, resume_step=5, trackers=[])
    # rows of steps 6–7 come after the checkpoint being resumed: dropped as before; the cut rows too
    assert [r["step"] for r in log.history()] == [1, 2, 3, 4, 5]
    kept = samples.read_bytes().decode("utf-8").splitlines()
    assert [json.loads(line)["step"] for line in kept] == [1, 2, 3, 4, 5]
    assert json.loads(kept[0])["completion"] == "café"
    assert "dropped 1 unreadable line" in capsys.readouterr().out
    log.log(6, {"reward/mean": 0.6})  # appending continues on a clean line boundary
    assert [r["step"] for r in log.history()] == [1, 2, 3, 4, 5, 6]
    log.close()


def test_history_skips_a_cut_last_line(tmp_path):
    _write(tmp_path / "metrics.jsonl", [{"step": 1, "loss": 0.5}], b'{"step": 2, "lo')
    log = RunLog.__new__(RunLog)  # read-only view of a folder, as the report reads it
    log.metrics_path = tmp_path / "metrics.jsonl"
    assert log.history() == [{"step": 1, "loss": 0.5}]
