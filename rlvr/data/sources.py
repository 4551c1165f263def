"""Where rows come from: the source named by `data.train` / `data.eval`, resolved and checked
before anything loads (`check_sources`, run by `rlvr config` and at the start of `rlvr train`),
then read into `Sample`s (`load_source`, before the model loads). docs/data.md lists the kinds:

- a file: `.jsonl`, `.json` (read by `rlvr.data.files`, so errors name the line), `.parquet`,
  `.arrow` (read by the `datasets` library, streamed: nothing is copied into its cache);
- a glob (`data/train-*.parquet`): every matching file, in sorted order;
- a folder of data files; file or folder names that say the split (`train-00000.parquet`,
  `test/`) make splits, by the `datasets` library's own rules;
- a `datasets.save_to_disk` folder: a Dataset, or a DatasetDict (splits);
- a hub dataset id (`openai/gsm8k`) already in the local `datasets` cache, read with the
  network off whatever the environment says.

A source with several splits gives the one `data.train_split` / `data.eval_split` names (empty:
`train` / `test`, or the only split). `datasets` is imported only for the kinds that need it.
"""
from __future__ import annotations

import glob
import json
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from rlvr.data.files import DataError, iter_json, iter_jsonl, load_rows
from rlvr.types import Sample

if TYPE_CHECKING:
    from rlvr.config import DataConfig

SUFFIXES = (".jsonl", ".json", ".parquet", ".arrow")
"""The data files rlvr reads (alone, in a folder, or matched by a glob)."""
STREAMED = {".parquet": "parquet", ".arrow": "arrow"}
"""Suffixes read through `datasets`' builder of that name."""
HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")
_NOT_DATA = re.compile(r"(readme|license|licence|changelog)(\..*)?|.*\.md", re.IGNORECASE)
KINDS = ".jsonl, .json, .parquet and .arrow files, folders or globs of them, datasets.save_to_disk folders " \
        "and hub dataset ids in the local datasets cache"


@dataclass(frozen=True)
class Source:
    """A resolved data source. `splits` maps each split name to its files (kind `files`) or to
    () (kinds `saved` and `hub`); the single name "" is a source without named splits."""

    kind: str
    """`files`, `saved` (a save_to_disk folder) or `hub` (the local datasets cache)."""
    spec: str
    """What the config said."""
    splits: dict[str, tuple[Path, ...]]
    subset: str = ""
    """The hub dataset's configuration (`data.subset`), empty for its only one."""


def _check_suffixes(files: list[Path], spec: str) -> None:
    bad = [f for f in files if f.suffix not in SUFFIXES]
    if bad:
        raise DataError(f"{bad[0]}: unsupported data file type {bad[0].suffix!r}" +
                        (f" (in {spec})" if str(bad[0]) != spec else "") + f"; rlvr reads {KINDS}")


def resolve(spec: str, *, subset: str = "") -> Source:
    """The source `spec` names, with its splits; a `DataError` when it does not exist, matches
    nothing, or holds files rlvr cannot read. Reads no rows."""
    if any(c in spec for c in "*?["):
        files = sorted(Path(p) for p in glob.glob(os.path.expanduser(spec), recursive=True) if Path(p).is_file())
        if not files:
            raise DataError(f"no file matches the glob {spec!r}")
        _check_suffixes(files, spec)
        return Source("files", spec, {"": tuple(files)})
    path = Path(spec).expanduser()
    if path.is_file():
        _check_suffixes([path], spec)
        return Source("files", spec, {"": (path,)})
    if path.is_dir():
        return _folder(path, spec)
    if path.suffix in SUFFIXES or spec.startswith((".", "/", "~")) or not HUB_ID.fullmatch(spec):
        raise DataError(f"data file or folder not found: {spec}")
    return _hub(spec, subset)


def _folder(path: Path, spec: str) -> Source:
    if (path / "dataset_dict.json").is_file():  # DatasetDict.save_to_disk
        try:
            names = json.loads((path / "dataset_dict.json").read_text(encoding="utf-8"))["splits"]
        except (ValueError, KeyError, TypeError) as e:
            raise DataError(f"{path / 'dataset_dict.json'}: not a datasets save_to_disk index ({e})") from None
        return Source("saved", spec, {str(n): () for n in names})
    if (path / "state.json").is_file() and (path / "dataset_info.json").is_file():  # Dataset.save_to_disk
        return Source("saved", spec, {"": ()})
    files = [p for p in sorted(path.rglob("*")) if p.is_file()
             and not any(part.startswith(".") for part in p.relative_to(path).parts)]
    files = [p for p in files if not _NOT_DATA.fullmatch(p.name)]
    if not files:
        raise DataError(f"the folder {spec} holds no data files; rlvr reads {KINDS}")
    _check_suffixes(files, spec)
    from datasets.data_files import DataFilesDict, get_data_patterns

    # the split of each file as `datasets.load_dataset(folder)` infers it from the names
    with _offline():
        patterns = get_data_patterns(str(path))
        by_split = DataFilesDict.from_patterns(patterns, base_path=str(path))
    splits = {str(name): tuple(sorted(Path(f) for f in found if Path(f).suffix in SUFFIXES))
              for name, found in by_split.items()}
    return Source("files", spec, {k: v for k, v in splits.items() if v})


def cache_folder() -> str:
    import datasets

    return str(datasets.config.HF_DATASETS_CACHE)


@contextmanager
def _offline():
    """The network off for `datasets` and `huggingface_hub`, whatever the environment says:
    rlvr never downloads (the flags are read at import, so they are set on the modules)."""
    os.environ["HF_DATASETS_OFFLINE"] = os.environ["HF_HUB_OFFLINE"] = "1"
    import datasets
    import huggingface_hub.constants as hub

    datasets.utils.logging.set_verbosity_error()  # "using the cached version" on every load
    datasets.disable_progress_bars()

    saved = datasets.config.HF_HUB_OFFLINE, hub.HF_HUB_OFFLINE
    datasets.config.HF_HUB_OFFLINE = hub.HF_HUB_OFFLINE = True
    try:
        yield datasets
    finally:
        datasets.config.HF_HUB_OFFLINE, hub.HF_HUB_OFFLINE = saved


def _not_cached(spec: str, subset: str, error: Exception) -> DataError:
    args = f"{spec!r}" + (f", {subset!r}" if subset else "")
    detail = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
    return DataError(f"{spec}: no such file or folder, and not in the local cache of the datasets library "
                     f"({cache_folder()}); rlvr reads hub datasets with no network. Fill the cache on a machine "
                     f"that has one (python -c \"import datasets; datasets.load_dataset({args})\", with "
                     "HF_DATASETS_CACHE set to the cache to fill), then copy that folder here or point "
                     f"HF_DATASETS_CACHE at it. ({detail})")


def _hub(spec: str, subset: str) -> Source:
    with _offline() as datasets:
        try:
            builder = datasets.load_dataset_builder(spec, subset or None)
        except Exception as e:  # noqa: BLE001 — a miss raises one of several types, by version
            raise _not_cached(spec, subset, e) from None
    names = list(builder.info.splits or {})
    return Source("hub", spec, {str(n): () for n in names}, subset=subset)


def choose_split(source: Source, wanted: str, key: str) -> str:
    """The split of `source` that `key` (`data.train_split` / `data.eval_split`) asks for."""
    names = list(source.splits)
    if names == [""]:
        if wanted:
            raise DataError(f"'{key}' is {wanted!r}, but {source.spec} has no splits (a file, a glob or a saved "
                            "Dataset is one set of rows); leave it empty")
        return ""
    if not names and source.kind == "hub":  # the cache did not record its splits: the load will say
        return wanted or ("train" if key.endswith("train_split") else "test")
    if wanted:
        if wanted in names:
            return wanted
        raise DataError(f"{source.spec} has no split {wanted!r} (its splits: {', '.join(names)}); fix '{key}'")
    if len(names) == 1:
        return names[0]
    default = "train" if key.endswith("train_split") else "test"
    if default in names:
        return default
    raise DataError(f"{source.spec} has the splits {', '.join(names)} and none is {default!r}; choose one with "
                    f"'{key}'")


def file_rows(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, row) for every row of one data file."""
    if not path.is_file():
        raise DataError(f"data file not found: {path}")
    _check_suffixes([path], str(path))
    if path.suffix == ".jsonl":
        for line, row in iter_jsonl(path):
            yield f"{path}:{line}", row
    elif path.suffix == ".json":
        yield from iter_json(path)
    else:
        with _offline() as datasets:
            try:  # streamed: rows are read from the file itself, nothing is written to the cache
                table = datasets.load_dataset(STREAMED[path.suffix], data_files=[str(path)], split="train",
                                              streaming=True)
            except Exception as e:  # noqa: BLE001 — the readers raise many types for a bad file
                raise DataError(f"{path}: cannot read {path.suffix[1:]}: {e}") from None
        yield from _rows_of(table, str(path), f"cannot read {path.suffix[1:]}")


def _rows_of(table, label: str, what: str) -> Iterator[tuple[str, Any]]:
    """(where, row) of a datasets Dataset or IterableDataset; a read error names the row."""
    rows, i = iter(table), 0
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except Exception as e:  # noqa: BLE001 — pyarrow and datasets raise many types
            raise DataError(f"{label}: row {i}: {what}: {e}") from None
        yield f"{label}: row {i}", row
        i += 1


def source_rows(source: Source, split: str) -> Iterator[tuple[str, Any]]:
    """(where, row) for every row of one split of a resolved source."""
    if source.kind == "files":
        for path in source.splits[split]:
            yield from file_rows(path)
        return
    label = f"{source.spec} [{split}]" if split else source.spec
    with _offline() as datasets:
        if source.kind == "saved":
            try:
                data = datasets.load_from_disk(str(Path(source.spec).expanduser()))
            except Exception as e:  # noqa: BLE001
                raise DataError(f"{source.spec}: cannot read the save_to_disk folder: {e}") from None
        else:
            try:
                data = datasets.load_dataset(source.spec, source.subset or None)
            except Exception as e:  # noqa: BLE001
                raise _not_cached(source.spec, source.subset, e) from None
    if isinstance(data, dict):  # a DatasetDict
        if split not in data:
            raise DataError(f"{source.spec} has no split {split!r} (its splits: {', '.join(data)})")
        data = data[split]
    yield from _rows_of(data, label, "cannot read")


def load_file(path: str | Path, *, prompt_field: str = "prompt", answer_field: str = "answer") -> list[Sample]:
    """One file's samples: `.jsonl`, `.json`, `.parquet` or `.arrow`."""
    return load_rows(file_rows(Path(path)), str(path), prompt_field=prompt_field, answer_field=answer_field)


def _split_key(which: str) -> str:
    return f"data.{which}_split"


def load_source(spec: str, cfg: "DataConfig", which: str) -> list[Sample]:
    """The samples of `data.train` (`which` = train) or `data.eval` (eval): every row of the
    chosen split, each checked (`rlvr.data.files`)."""
    source = resolve(spec, subset=cfg.subset)
    split = choose_split(source, getattr(cfg, f"{which}_split"), _split_key(which))
    label = f"{spec} [{split}]" if split else spec
    return load_rows(source_rows(source, split), label, prompt_field=cfg.prompt_field, answer_field=cfg.answer_field)


def check_sources(cfg: "DataConfig", procedural: tuple[str, ...], generated=lambda spec: False) -> None:
    """Config-time checks of `data.train` and `data.eval` (reads no row): the source exists,
    the glob matches, the files are of a known kind, the hub id is in the local cache, and the
    split asked for is there. Each error names its key. `generated(spec)` marks the other sources
    made in code (reasoning-gym's `rg:`), which their own config checks cover."""
    hub = False
    for which, spec in (("train", cfg.train), ("eval", cfg.eval)):
        if not spec or spec in procedural or generated(spec):
            continue
        try:
            source = resolve(spec, subset=cfg.subset)
            choose_split(source, getattr(cfg, f"{which}_split"), _split_key(which))
        except DataError as e:
            also = f" (nor a procedural task: {', '.join(procedural)})" if "/" not in spec and "." not in spec else ""
            raise DataError(f"'data.{which}': {e}{also}") from None
        hub = hub or source.kind == "hub"
    if cfg.subset and not hub:
        raise DataError(f"'data.subset' ({cfg.subset!r}) names a configuration of a hub dataset, but neither "
                        "'data.train' nor 'data.eval' is one; leave it empty")
