"""What a run leaves behind besides checkpoints: `metrics.jsonl` (one line per step, its
held-out evaluation in it), `samples.jsonl`, `reward.png`, `report.md`, `report.html` (with
`environment.json`; rlvr.report), and what the configured trackers keep (`run.trackers`:
TensorBoard events by default; `rlvr.trackers`).

On resume, lines written after the checkpoint being resumed are dropped, so the files
read as if the run had never stopped; so is a last line cut by a kill or a full disk
(mid-row or mid-UTF-8 character). The truncated file replaces the old one atomically, and
the rewritten files (`reward.png`, `report.md`) are written to a temporary file and renamed.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any, Iterator, Sequence

from rlvr.runfiles import atomic_write, atomic_write_bytes, atomic_write_text
from rlvr.trackers import Trackers


def _rows(raw: bytes) -> Iterator[tuple[bytes, dict | None]]:
    """(line, parsed row or None when the line is not a whole JSON object in UTF-8)."""
    for line in raw.split(b"\n"):
        if not line.strip():
            continue
        try:
            row = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            row = None
        yield line, row if isinstance(row, dict) else None


def _truncate_jsonl(path: Path, last_step: int) -> int:
    """Keep the rows of steps up to `last_step`; returns how many unreadable lines (cut by a
    kill or a full disk) were dropped."""
    if not path.is_file():
        return 0
    kept, cut = [], 0
    for line, row in _rows(path.read_bytes()):
        if row is None:
            cut += 1
        elif row.get("step", 0) <= last_step:
            kept.append(line + b"\n")
    atomic_write_bytes(path, b"".join(kept))
    return cut


def _moving_average(values: list, window: int) -> list:
    out, acc = [], []
    for v in values:
        acc = (acc + [v if v is not None else float("nan")])[-window:]
        out.append(sum(acc) / len(acc))
    return out


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class RunLog:
    def __init__(self, run_dir: str | Path, *, resume_step: int | None = None,
                 trackers: Sequence[str] = ("tensorboard",), config: Any = None) -> None:
        """`resume_step`: None starts the files afresh; a step keeps what was logged up to it.
        `trackers`: the `run.trackers` names, started here with `config` (the resolved Config)."""
        self.dir = Path(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.metrics_path = self.dir / "metrics.jsonl"
        self.samples_path = self.dir / "samples.jsonl"
        for path in (self.metrics_path, self.samples_path):
            if resume_step is None:
                path.unlink(missing_ok=True)
            elif cut := _truncate_jsonl(path, resume_step):
                print(f"{path.name}: dropped {cut} unreadable line(s) cut by the interruption", flush=True)
        self.trackers = Trackers(trackers)
        self.trackers.start(config, self.dir, resume_step)

    def log(self, step: int, metrics: dict[str, float]) -> None:
        row = {"step": step, **{k: _clean(v) for k, v in metrics.items()}}
        with open(self.metrics_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        self.trackers.log(metrics, step)

    def samples(self, step: int, rows: list[dict]) -> None:
        with open(self.samples_path, "a", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps({"step": step, **row}, ensure_ascii=False) + "\n")
        self.trackers.log_completions(rows, step)

    def history(self) -> list[dict]:
        if not self.metrics_path.is_file():
            return []
        return [row for _, row in _rows(self.metrics_path.read_bytes()) if row is not None]

    def plot(self) -> Path | None:
        """`reward.png`: reward and accuracy per step, held-out accuracy where evaluated (the
        rows with `eval/accuracy`: step 0 before training, the periodic ones, the last step after)."""
        history = self.history()
        rows = [r for r in history if "reward/mean" in r]  # training steps (step 0 is the first eval)
        if not rows:
            return None
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        steps = [r["step"] for r in rows]
        fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
        for key, label, color in (("reward/mean", "reward", "tab:blue"), ("accuracy", "train accuracy", "tab:green")):
            values = [r.get(key) for r in rows]
            if key == "accuracy" and values == [r.get("reward/mean") for r in rows]:
                continue  # a 0/1 reward: the accuracy line would hide under the reward line
            ax.plot(steps, values, color=color, alpha=0.3, linewidth=1)
            ax.plot(steps, _moving_average(values, 5), color=color, linewidth=2,
                    label=f"{label} (mean of last 5 steps)")
        evals = [(r["step"], r["eval/accuracy"]) for r in history if r.get("eval/accuracy") is not None]
        if evals:
            ax.plot(*zip(*evals), "o--", label="held-out greedy accuracy", color="tab:red")
        ax.set_xlabel("step")
        ax.set_ylabel("reward / accuracy")
        ax.set_title(f"{self.dir.name}: reward per step")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
        fig.tight_layout()
        out = self.dir / "reward.png"
        atomic_write(out, lambda tmp: fig.savefig(tmp, format="png"))
        plt.close(fig)
        return out

    def close(self) -> None:
        self.trackers.finish()


def write_report(run_dir: str | Path, *, config_yaml: str, before: dict | None, after: dict | None,
                 history: list[dict], seconds: float, checkpoint: str | None) -> Path:
    """`report.md`: what was trained, how it went, where the artefacts are; then `report.html`
    beside it (`_write_html`)."""
    run_dir = Path(run_dir)
    lines = [f"# Run report: {run_dir.name}", ""]
    if before or after:
        lines += ["## Held-out evaluation (greedy)", "", "| | accuracy | problems | mean length |", "|---|---|---|---|"]
        for label, res in (("before training", before), ("after training", after)):
            if res:
                lines.append(f"| {label} | {res['accuracy']:.1%} | {res['problems']} | {res['mean_length']:.1f} |")
        if before and after:
            lines += ["", f"Change: {100 * (after['accuracy'] - before['accuracy']):+.1f} points."]
        lines.append("")
    if history:
        k = min(5, len(history))

        def mean(key: str, rows: list[dict]) -> float:
            values = [r[key] for r in rows if r.get(key) is not None]
            return sum(values) / len(values) if values else float("nan")

        lines += ["## Training", "",
                  f"- steps: {history[-1]['step']}, wall time {seconds / 60:.1f} min "
                  f"({mean('time/step_s', history):.2f} s per step)",
                  f"- reward, mean of the first {k} steps → last {k} steps: "
                  f"{mean('reward/mean', history[:k]):.3f} → {mean('reward/mean', history[-k:]):.3f}",
                  f"- train accuracy, likewise: {mean('accuracy', history[:k]):.3f} → "
                  f"{mean('accuracy', history[-k:]):.3f}",
                  f"- mean completion length, likewise: {mean('length/mean', history[:k]):.1f} → "
                  f"{mean('length/mean', history[-k:]):.1f} tokens", ""]
    examples = (after or {}).get("examples") or []
    if examples:
        lines += ["## Held-out examples after training (greedy)", ""]
        for ex in examples:
            mark = "correct" if ex["correct"] else "wrong"
            lines += [f"- **{ex['prompt']}** (reference {ex['answer']}, {mark}): `{ex['completion'].strip()}`"]
        lines.append("")
    lines += ["## Files", "", "- `metrics.jsonl`: per-step metrics and every held-out evaluation at its step "
              "(`tensorboard/` and the other `run.trackers` get the same; docs/logging.md)",
              "- `samples.jsonl`: sampled completions with rewards", "- `reward.png`: reward curve"]
    if checkpoint:
        lines.append(f"- `{checkpoint}`: final weights (`AutoModelForCausalLM.from_pretrained`)")
    lines += ["", "## Resolved config", "", "```yaml", config_yaml.rstrip(), "```", ""]
    path = atomic_write_text(run_dir / "report.md", "\n".join(lines))
    _write_html(run_dir)
    return path


def _write_html(run_dir: Path) -> None:
    """`report.html` (and `environment.json`), built from the files the run just wrote. A failure
    is a warning, never an error: the run is done and its files are safe, and `rlvr report RUN`
    builds the page again later."""
    try:
        from rlvr.report import write_run_html

        write_run_html(run_dir)
    except Exception as e:  # whatever breaks in the page must not fail a finished run
        print(f"warning: could not write {run_dir / 'report.html'} ({type(e).__name__}: {e}); "
              f"`rlvr report {run_dir}` tries again", file=sys.stderr, flush=True)
