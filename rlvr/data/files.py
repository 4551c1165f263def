"""Prompts from JSONL or Parquet files, with configurable field names.

A bad row is an error that names the file and the line (JSONL) or row (Parquet); nothing
is skipped silently.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from rlvr.types import Sample


class DataError(ValueError):
    """A malformed data file or row; the message names the file and line."""


def _to_sample(row: Any, where: str, prompt_field: str, answer_field: str) -> Sample:
    if not isinstance(row, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for name in (prompt_field, answer_field):
        if name not in row:
            raise DataError(f"{where}: missing field '{name}' (fields present: "
                            f"{', '.join(map(str, row)) or 'none'})")
    bad = _lone_surrogate(row)
    if bad is not None:
        raise DataError(f"{where}: field '{bad}' holds a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff "
                        "escape), which is not text and cannot be tokenized")
    prompt = row[prompt_field]
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
    answer = row[answer_field]
    if answer is None or (isinstance(answer, str) and not answer.strip()):
        raise DataError(f"{where}: field '{answer_field}' is empty")
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


def load_parquet(path: str | Path, *, prompt_field: str = "prompt", answer_field: str = "answer") -> list[Sample]:
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        table = pq.read_table(path)
    except Exception as e:  # noqa: BLE001 — pyarrow raises many types for a bad file
        raise DataError(f"{path}: cannot read Parquet: {e}") from None
    samples = [_to_sample(row, f"{path}: row {i}", prompt_field, answer_field)
               for i, row in enumerate(table.to_pylist())]
    if not samples:
        raise DataError(f"{path}: no rows")
    return samples


def load_file(path: str | Path, *, prompt_field: str = "prompt", answer_field: str = "answer") -> list[Sample]:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    if path.suffix == ".jsonl":
        return load_jsonl(path, prompt_field=prompt_field, answer_field=answer_field)
    if path.suffix == ".parquet":
        return load_parquet(path, prompt_field=prompt_field, answer_field=answer_field)
    raise DataError(f"{path}: unsupported data file type {path.suffix!r}; use .jsonl or .parquet")
