"""`rlvr audit verifier`: run several verifiers over the same (completion, reference) rows and
show where they disagree.

Rule-based verifiers such as Math-Verify are precise but miss correct answers written
differently (false negatives); model-based judges find more of them but can be talked into
accepting wrong ones (false positives) — Huang et al., arXiv 2505.22203; TinyV, arXiv
2505.14625 (ALGORITHMS.md §15). Before trusting a reward, look at the rows where two
verifiers disagree: A accepts and B rejects is a candidate false negative of B (or false
positive of A). With human `label`s the report also gives each verifier's precision and
recall.

Every verdict comes from `RewardFunction`, the trainer's own path: worker processes, hard
time limits, batched and model-based verifiers. Rows that share prompt and reference and
follow each other form a prompt group for verifiers that need one (`needs_group`).
"""
from __future__ import annotations

import datetime
import inspect
import itertools
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import yaml

from rlvr.configtools import ConfigError
from rlvr.data.files import DataError, iter_jsonl
from rlvr.verifiers import Verdict, get, verifier_class
from rlvr.verifiers.reward import RewardFunction

FIELDS = ("completion", "reference", "prompt", "label", "meta")
CHUNK_ROWS = 64  # rows scored per RewardFunction call: the progress bar's step
SHOWN_CHARS = 160  # of a completion quoted in the report
KEPT_CHARS = 400  # of a completion kept in verdicts.jsonl


@dataclass(frozen=True)
class AuditRow:
    line: int
    """Line of the row in its file (1-based), so a reader can find it."""
    completion: str
    reference: Any
    prompt: str = ""
    """The question; verifiers receive it as `meta["prompt"]`."""
    label: bool | None = None
    """Human truth: is the completion's answer correct? None: unlabelled."""
    meta: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    """Any other keys of the row (an id, a note), carried into verdicts.jsonl."""


# ---------------------------------------------------------------------------- input
def _row(obj: Any, line: int, where: str) -> AuditRow:
    if not isinstance(obj, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    if not isinstance(obj.get("completion"), str):
        raise DataError(f"{where}: field 'completion' must be a string (fields present: "
                        f"{', '.join(map(str, obj)) or 'none'})")
    ref_key = "reference" if "reference" in obj or "answer" not in obj else "answer"  # samples.jsonl: answer
    if obj.get(ref_key) is None:
        raise DataError(f"{where}: field 'reference' is missing or null")
    prompt = obj.get("prompt") if obj.get("prompt") is not None else ""
    if _is_chat(prompt):  # a chat prompt (as in samples.jsonl): the question is the last user turn
        prompt = next((m["content"] for m in reversed(prompt) if m["role"] == "user"), "")
    if not isinstance(prompt, str):
        raise DataError(f"{where}: field 'prompt' must be a string or a list of chat messages, "
                        f"got {type(prompt).__name__}")
    label = obj.get("label")
    if label is not None and not isinstance(label, bool):
        raise DataError(f"{where}: field 'label' must be true, false or null, got {label!r:.40}")
    meta = obj.get("meta") if obj.get("meta") is not None else {}
    if not isinstance(meta, dict):
        raise DataError(f"{where}: field 'meta' must be an object, got {type(meta).__name__}")
    extra = {k: v for k, v in obj.items() if k not in FIELDS and k != ref_key}
    return AuditRow(line, obj["completion"], obj[ref_key], prompt, label, meta, extra)


def _is_chat(prompt: Any) -> bool:
    return isinstance(prompt, list) and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in prompt)


def read_rows(path: str | Path) -> list[AuditRow]:
    """The rows of a JSONL file; a malformed row is a `DataError` naming the file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    rows = [_row(obj, line, f"{path}:{line}") for line, obj in iter_jsonl(path)]
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def parse_verifiers(names: str, options: Sequence[str] = ()) -> list[tuple[str, dict]]:
    """`"strict,math"` and `["math={answer_pattern: '(\\d+)'}"]` → `[("strict", {}), ("math",
    {...})]`; each verifier is built once here so that a bad name or option fails now, with
    a message, rather than in a worker process."""
    chosen = [n.strip() for n in names.split(",") if n.strip()]
    if not chosen:
        raise ConfigError("--verifiers: name at least one verifier, e.g. strict,math")
    for name in chosen:  # a registered name, or package.module:ClassName
        try:
            verifier_class(name)
        except ValueError as e:
            raise ConfigError(f"--verifiers: {e}") from None
    if len(set(chosen)) != len(chosen):
        raise ConfigError(f"--verifiers: {names!r} names a verifier twice")
    opts: dict[str, dict] = {n: {} for n in chosen}
    for item in options:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep or name not in opts:
            raise ConfigError(f"--options {item!r}: expected NAME={{key: value, ...}} with NAME among {chosen}")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"--options {item!r}: not a YAML mapping ({e})") from None
        if not isinstance(value, dict):
            raise ConfigError(f"--options {item!r}: not a YAML mapping of options")
        opts[name].update(value)
    for name, o in opts.items():
        if o.get("model", _default_option(name, "model")) == "policy":
            raise ConfigError(f"{name}: model 'policy' means the model being trained, and an audit trains "
                              f"none; name one, e.g. --options '{name}={{model: smollm2-135m-instruct}}'")
        try:
            get(name, **o)
        except (TypeError, ValueError) as e:
            raise ConfigError(f"--options {name}: {e}") from None
    return [(n, opts[n]) for n in chosen]


def _default_option(name: str, key: str) -> Any:
    """The default of a verifier's keyword option, or None (e.g. `judge`'s `model="policy"`)."""
    try:
        param = inspect.signature(verifier_class(name)).parameters.get(key)
    except (TypeError, ValueError):
        return None
    return None if param is None or param.default is inspect.Parameter.empty else param.default


# ---------------------------------------------------------------------------- scoring
@dataclass
class Audit:
    rows: list[AuditRow]
    names: list[str]
    verdicts: list[dict[str, Verdict]]
    """Per row, each verifier's verdict."""
    accept: float = 0.5
    """A verdict accepts when its reward is at least this."""

    def accepts(self, name: str) -> list[bool]:
        return [d[name].reward >= self.accept for d in self.verdicts]


def prompt_groups(rows: Sequence[AuditRow]) -> list[int]:
    """Sizes of the runs of consecutive rows that share prompt and reference."""
    keys = [(r.prompt, json.dumps(r.reference, sort_keys=True, default=str)) for r in rows]
    return [len(list(run)) for _, run in itertools.groupby(keys)]


def score(rows: list[AuditRow], specs: list[tuple[str, dict]], *, workers: int = 2, timeout_s: float = 5.0,
          accept: float = 0.5, progress: bool = False) -> Audit:
    """Every verifier's verdict on every row, through the trainer's `RewardFunction`."""
    from tqdm.auto import tqdm

    reward = RewardFunction([(name, 1.0, options) for name, options in specs], workers=workers,
                            timeout_s=timeout_s)
    verdicts: list[dict[str, Verdict]] = []
    # chunks of whole prompt groups, so that a group verifier sees each group entire
    chunks: list[list[int]] = [[]]
    for size in prompt_groups(rows):
        if sum(chunks[-1]) >= CHUNK_ROWS:
            chunks.append([])
        chunks[-1].append(size)
    try:
        with tqdm(total=len(rows), desc="audit", disable=not progress or len(rows) <= CHUNK_ROWS,
                  leave=False, file=sys.stderr, dynamic_ncols=True) as bar:
            for groups in chunks:
                part = rows[len(verdicts):len(verdicts) + sum(groups)]
                scored = reward([r.completion for r in part], [r.reference for r in part],
                                [{**r.meta, "prompt": r.prompt} for r in part], groups=groups)
                verdicts.extend(scored.verdicts)
                bar.update(len(part))
    finally:
        reward.close()
    return Audit(rows, [name for name, _ in specs], verdicts, accept)


# ---------------------------------------------------------------------------- statistics
def verifier_stats(audit: Audit) -> list[dict]:
    """Per verifier: accepts, rate, errors, timeouts and, over labelled rows, the confusion
    counts with precision = tp/(tp+fp) and recall = tp/(tp+fn) (None when undefined)."""
    out = []
    for name in audit.names:
        acc = audit.accepts(name)
        infos = [d[name].info for d in audit.verdicts]
        s: dict[str, Any] = {
            "verifier": name, "accepts": sum(acc), "rate": sum(acc) / len(acc),
            "errors": sum("error" in i for i in infos),
            "timeouts": sum(i.get("error") == "timeout" for i in infos)}
        pairs = [(a, r.label) for a, r in zip(acc, audit.rows) if r.label is not None]
        s["tp"] = sum(a and lab for a, lab in pairs)
        s["fp"] = sum(a and not lab for a, lab in pairs)
        s["fn"] = sum(not a and lab for a, lab in pairs)
        s["tn"] = sum(not a and not lab for a, lab in pairs)
        s["precision"] = s["tp"] / (s["tp"] + s["fp"]) if s["tp"] + s["fp"] else None
        s["recall"] = s["tp"] / (s["tp"] + s["fn"]) if s["tp"] + s["fn"] else None
        out.append(s)
    return out


def pair_stats(audit: Audit) -> list[dict]:
    """For every pair (A, B) in the order given: rows where they agree, and the row indices
    where only A accepts (`a_only`) and where only B accepts (`b_only`)."""
    out = []
    for a, b in itertools.combinations(audit.names, 2):
        acc_a, acc_b = audit.accepts(a), audit.accepts(b)
        agree = sum(x == y for x, y in zip(acc_a, acc_b))
        out.append({"a": a, "b": b, "agree": agree, "agreement": agree / len(acc_a),
                    "a_only": [i for i, (x, y) in enumerate(zip(acc_a, acc_b)) if x and not y],
                    "b_only": [i for i, (x, y) in enumerate(zip(acc_a, acc_b)) if y and not x]})
    return out


# ---------------------------------------------------------------------------- report
def _printable(text: str) -> str:
    """Lone surrogates (valid in JSON, not in UTF-8) shown as escapes instead of crashing a write."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def shorten(text: str, limit: int = SHOWN_CHARS) -> str:
    """Head and tail of a long text — the tail is where the final answer usually is."""
    text = _printable(text)
    if len(text) <= limit:
        return text
    head = limit // 3
    return f"{text[:head]} … [{len(text) - limit} chars] … {text[len(text) - (limit - head):]}"


def _code(text: str) -> str:
    """A markdown code span safe in a table cell: one line, pipes escaped, a fence longer
    than any run of backticks inside."""
    text = " ".join(text.split()).replace("|", "\\|")
    if not text:
        return ""
    longest = max((len(m.group()) for m in re.finditer("`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""  # CommonMark drops one space each side
    return f"{fence}{pad}{text}{pad}{fence}"


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.1%}"


def _why(v: Verdict) -> str:
    """A verdict in a few words: the reward and the answer it saw, its reason or its error."""
    info = v.info
    if "error" in info:
        detail = f"error: {info['error']}"
    elif "answer" in info:
        detail = f"answer {info['answer']}"
    elif "reason" in info:
        detail = str(info["reason"])
    else:
        detail = json.dumps(info, default=str)[:80] if info else ""
    return f"{v.reward:g} · {shorten(detail, 60)}" if detail else f"{v.reward:g}"


def _label(label: bool | None) -> str:
    return {True: "correct", False: "wrong", None: "–"}[label]


def _examples(audit: Audit, indices: list[int], names: list[str], show: int) -> list[str]:
    if not indices:
        return ["none", ""]
    lines = ["| line | label | reference | completion | " + " | ".join(names) + " |",
             "|---|---|---|---|" + "---|" * len(names)]
    for i in indices[:show]:
        r, d = audit.rows[i], audit.verdicts[i]
        cells = [str(r.line), _label(r.label), _code(shorten(str(r.reference), 60)), _code(shorten(r.completion))]
        cells += [_code(_why(d[n])) for n in names]
        lines.append("| " + " | ".join(cells) + " |")
    if len(indices) > show:
        rest = [str(audit.rows[i].line) for i in indices[show:]]
        listed = ", ".join(rest[:20]) + (", …" if len(rest) > 20 else "")
        lines += ["", f"… and {len(rest)} more (lines {listed})"]
    return lines + [""]


def _label_split(audit: Audit, indices: list[int]) -> str:
    labels = [audit.rows[i].label for i in indices]
    if all(lab is None for lab in labels):
        return str(len(indices))
    return f"{len(indices)} ({labels.count(True)} correct, {labels.count(False)} wrong)"


def render(audit: Audit, *, source: str = "", show: int = 3) -> str:
    """The report as markdown: per-verifier table, pairwise agreement, example rows."""
    n, labelled = len(audit.rows), sum(r.label is not None for r in audit.rows)
    stats, pairs = verifier_stats(audit), pair_stats(audit)
    out = ["# Verifier audit", "",
           f"{_code(source) + ': ' if source else ''}{n} rows, {labelled} labelled; verifiers "
           f"{', '.join(audit.names)}; a verdict accepts when its reward is at least {audit.accept:g}.", "",
           "## Verifiers", ""]
    head = "| verifier | accepts | rate | errors | timeouts |"
    if labelled:
        head += " precision | recall | false positives | false negatives |"
    out += [head, "|" + "---|" * (head.count("|") - 1)]
    for s in stats:
        row = f"| {s['verifier']} | {s['accepts']} | {_pct(s['rate'])} | {s['errors']} | {s['timeouts']} |"
        if labelled:
            row += f" {_pct(s['precision'])} | {_pct(s['recall'])} | {s['fp']} | {s['fn']} |"
        out.append(row)
    if labelled:
        out += ["", f"Precision and recall are over the {labelled} labelled rows (label true: the answer "
                    "is correct). An error or a timeout counts as a rejection."]
    if pairs:
        out += ["", "## Agreement", "",
                "A accepts and B rejects: a candidate false negative of B, or false positive of A.", "",
                "| A | B | agree | agreement | A accepts, B rejects | A rejects, B accepts |",
                "|---|---|---|---|---|---|"]
        for p in pairs:
            out.append(f"| {p['a']} | {p['b']} | {p['agree']} | {_pct(p['agreement'])} | "
                       f"{_label_split(audit, p['a_only'])} | {_label_split(audit, p['b_only'])} |")
    if show > 0 and pairs:
        out += ["", "## Disagreements", ""]
        for p in pairs:
            for who, other, key in ((p["a"], p["b"], "a_only"), (p["b"], p["a"], "b_only")):
                out += [f"### {who} accepts, {other} rejects ({len(p[key])})", ""]
                out += _examples(audit, p[key], [p["a"], p["b"]], show)
    if show > 0 and labelled:
        out += ["", "## Against the labels", ""]
        for name in audit.names:
            acc = audit.accepts(name)
            for title, wanted in (("false positives", False), ("false negatives", True)):
                idx = [i for i, (a, r) in enumerate(zip(acc, audit.rows)) if r.label is wanted and a != wanted]
                out += [f"### {name}: {title} ({len(idx)})", ""]
                out += _examples(audit, idx, [name], show)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).rstrip() + "\n"


def verdict_records(audit: Audit) -> list[dict]:
    """One JSON object per row: where it came from and each verifier's reward and info."""
    records = []
    for r, d in zip(audit.rows, audit.verdicts):
        rec: dict[str, Any] = {"line": r.line, "reference": r.reference, "label": r.label,
                               "completion": shorten(r.completion, KEPT_CHARS)}
        if r.extra:
            rec["extra"] = r.extra
        rec["verdicts"] = {n: {"reward": d[n].reward, "accept": d[n].reward >= audit.accept, "info": d[n].info}
                           for n in audit.names}
        records.append(rec)
    return records


def default_out_dir() -> Path:
    base = Path("runs") / f"audit-{datetime.datetime.now():%Y%m%d-%H%M%S}"
    out, k = base, 2
    while out.exists():
        out, k = Path(f"{base}-{k}"), k + 1
    return out


def audit_file(path: str | Path, verifiers: str, *, options: Sequence[str] = (), out: str | Path | None = None,
               workers: int = 2, timeout_s: float = 5.0, accept: float = 0.5, show: int = 3,
               progress: bool = False) -> tuple[str, Path, Audit]:
    """Read, score, write `report.md` and `verdicts.jsonl` into `out`; returns (report, out, audit)."""
    if workers < 1 or not timeout_s > 0 or show < 0 or not math.isfinite(accept):
        raise ConfigError("--workers must be at least 1, --timeout-s positive, --show not negative and "
                          "--accept a number")
    specs = parse_verifiers(verifiers, options)
    rows = read_rows(path)
    audit = score(rows, specs, workers=workers, timeout_s=timeout_s, accept=accept, progress=progress)
    report = render(audit, source=str(path), show=show)
    out_dir = Path(out) if out else default_out_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.md").write_text(report, encoding="utf-8")
    with open(out_dir / "verdicts.jsonl", "w", encoding="utf-8") as fh:
        for rec in verdict_records(audit):
            fh.write(json.dumps(rec, default=str) + "\n")
    return report, out_dir, audit
