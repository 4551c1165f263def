"""Rows of one data file turned into `Sample`s, with configurable (dotted) field names.

A bad row is an error that names the file and the line (JSONL) or row (JSON list, Parquet,
Arrow); nothing is skipped silently. JSON and JSONL are read here, line by line, so that an
error names its line and rows whose types vary (an int answer here, a string there) load as
written; Parquet and Arrow files are read through the `datasets` library (`rlvr.data.sources`,
which also resolves folders, globs, `save_to_disk` folders and hub datasets).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from rlvr.types import Sample


class DataError(ValueError):
    """A malformed data file or row; the message names the file and line."""


def field_value(row: dict, path: str, where: str) -> Any:
    """The value at `path` in a row: a column name, or a dotted path into nested objects
    (`reward_model.ground_truth`, as verl writes its Parquet files). A column whose own name
    contains dots is found first. A missing part is a `DataError` naming the path and the keys
    present where it stopped."""
    if path in row:
        return row[path]
    value, seen = row, []
    for part in path.split("."):
        if not isinstance(value, dict):
            raise DataError(f"{where}: field '{path}': '{'.'.join(seen)}' is a {type(value).__name__}, "
                            f"not an object with a key '{part}'")
        if part not in value:
            if not seen:
                raise DataError(f"{where}: missing field '{path}' (fields present: "
                                f"{', '.join(map(str, value)) or 'none'})")
            raise DataError(f"{where}: missing field '{path}' (no '{part}' in '{'.'.join(seen)}', whose keys are: "
                            f"{', '.join(map(str, value)) or 'none'})")
        value = value[part]
        seen.append(part)
    return value


def _to_sample(row: Any, where: str, prompt_field: str, answer_field: str) -> Sample:
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
    prompt, answer = field_value(row, prompt_field, where), field_value(row, answer_field, where)
    bad = _lone_surrogate(row)
    if bad is not None:
        raise DataError(f"{where}: field '{bad}' holds a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff "
                        "escape), which is not text and cannot be tokenized")
    if isinstance(prompt, list):
        if not prompt:
            raise DataError(f"{where}: field '{prompt_field}' is an empty list; give the question as a string or "
                            "a non-empty list of chat messages")
        for m in prompt:
            if not (isinstance(m, dict) and isinstance(m.get("role"), str)
                    and isinstance(m.get("content"), str)):
                raise DataError(f"{where}: field '{prompt_field}' must be a list of chat messages "
                                "({\"role\": str, \"content\": str})")
    elif not isinstance(prompt, str) or not prompt.strip():
        raise DataError(f"{where}: field '{prompt_field}' must be a non-empty string or a list "
                        f"of chat messages, got {prompt!r:.80}")
    if answer is None or (isinstance(answer, str) and not answer.strip()):
        raise DataError(f"{where}: field '{answer_field}' is empty")
    # the other columns reach the verifiers; a dotted path leaves its column there (verl's
    # `reward_model` keeps its `style` beside the ground truth)
    meta = {k: v for k, v in row.items() if k not in (prompt_field, answer_field)}
    return Sample(prompt=prompt, answer=answer, meta=meta, where=where)


def _lone_surrogate(value: Any, key: str = "") -> str | None:
    """The key path of the first string holding an unpaired surrogate, or None. JSON allows
    `"\\ud800"`, Python reads it into a str that cannot be encoded, and the tokenizer or a
    verifier would crash on it mid-run."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return key or "(value)"
    elif isinstance(value, dict):
        for k, v in value.items():
            if (found := _lone_surrogate(k, f"{key}.{k}".lstrip(".")) or _lone_surrogate(v, f"{key}.{k}".lstrip("."))):
                return found
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if (found := _lone_surrogate(v, f"{key}[{i}]")):
                return found
    return None


def iter_jsonl(path: str | Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed object) for each non-blank line of a JSONL file; invalid UTF-8 or
    JSON is a `DataError` naming the file and line."""
    path = Path(path)
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            where = f"{path}:{lineno}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(f"{where}: not valid UTF-8 ({e.reason} at byte {e.start})") from None
            if not line.strip():
                continue  # blank lines (a trailing newline) carry no row
            try:
                yield lineno, json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{where}: invalid JSON: {e.msg} (column {e.colno})") from None


def load_jsonl(path: str | Path, *, prompt_field: str = "prompt", answer_field: str = "answer") -> list[Sample]:
    samples = [_to_sample(row, f"{path}:{line}", prompt_field, answer_field) for line, row in iter_jsonl(path)]
    if not samples:
        raise DataError(f"{path}: no rows")
    return samples


def iter_json(path: str | Path) -> Iterator[tuple[str, Any]]:
    """(where, object) for each row of a `.json` file: a top-level list of objects (`file:
    row i`), or JSON lines (`file:line`), as `datasets`' json builder accepts both."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not valid UTF-8 ({e.reason} at byte {e.start})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        if e.msg != "Extra data":  # not one document: read it as JSON lines, each error on its line
            raise DataError(f"{path}:{e.lineno}: invalid JSON: {e.msg} (column {e.colno})") from None
        for line, row in iter_jsonl(path):
            yield f"{path}:{line}", row
        return
    if isinstance(data, dict):  # one object alone is one row (a JSON-lines file of one line)
        data = [data]
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a list of objects (or JSON lines), got {type(data).__name__}")
    for i, row in enumerate(data):
        yield f"{path}: row {i}", row


def load_rows(rows: Iterator[tuple[str, Any]], what: str, *, prompt_field: str, answer_field: str) -> list[Sample]:
    """Samples from (where, row) pairs; a source without rows is an error."""
    samples = [_to_sample(row, where, prompt_field, answer_field) for where, row in rows]
    if not samples:
        raise DataError(f"{what}: no rows")
    return samples


def load_jsonl(path: str | Path, *, prompt_field: str = "prompt", answer_field: str = "answer") -> list[Sample]:
    return load_rows(((f"{path}:{line}", row) for line, row in iter_jsonl(path)), str(path),
                     prompt_field=prompt_field, answer_field=answer_field)
