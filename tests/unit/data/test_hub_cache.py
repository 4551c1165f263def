"""A hub dataset id already in the local `datasets` cache loads with the network off; a miss
says so, names the cache folder and how to fill it. The cache entry is made here, with no
network: a local Parquet file prepared by `datasets`' own builder under a hub-like name."""
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rlvr.config import load_config
from rlvr.data import DataError, PromptStream, check_data_sources, eval_samples

datasets = pytest.importorskip("datasets")
REPO = "someuser/tiny_sums"


def fill_cache(cache, folder, repo=REPO, subset="main"):
    """Put `repo` (configuration `subset`) in the datasets cache `cache` as `load_dataset(repo,
    subset)` leaves it after a download — `NAMESPACE___NAME/SUBSET/VERSION/HASH/` holding
    `dataset_info.json` and `NAME-SPLIT.arrow` — from local Parquet files prepared by
    `datasets`' own Parquet builder (datasets 5 refuses local files under a hub repo_id, so the
    prepared folder is moved into the hub layout)."""
    from datasets.packaged_modules.parquet.parquet import Parquet

    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for split, n in (("train", 6), ("test", 3)):
        rows = [{"question": f"What is {i} + 1?", "answer": {"final": str(i + 1)}} for i in range(n)]
        pq.write_table(pa.Table.from_pylist(rows), folder / f"{split}.parquet")
        files[split] = [str(folder / f"{split}.parquet")]
    name = repo.split("/")[-1]
    builder = Parquet(cache_dir=str(folder / "prepared"), dataset_name=name, config_name=subset, data_files=files,
                      hash="0123456789abcdef")
    builder.download_and_prepare()
    target = Path(cache) / repo.replace("/", "___") / subset / "0.0.0" / "0123456789abcdef"
    shutil.copytree(builder.cache_dir, target)
    assert sorted(p.name for p in target.glob("*.arrow")) == [f"{name}-test.arrow", f"{name}-train.arrow"]


@pytest.fixture
def cache(tmp_path, monkeypatch):
    cache = tmp_path / "hf_datasets"
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    monkeypatch.setenv("HF_DATASETS_CACHE", str(cache))
    return cache


def test_a_cached_hub_dataset_loads_offline_with_its_splits(cache, tmp_path, monkeypatch):
    fill_cache(cache, tmp_path / "raw")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")  # rlvr turns the network off itself
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    cfg = load_config(None, {"data": {"train": REPO, "eval": REPO, "subset": "main", "prompt_field": "question",
                                      "answer_field": "answer.final"}}).data
    check_data_sources(cfg)
    train = PromptStream(cfg, seed=0).rows
    assert [s.answer for s in train] == [str(i + 1) for i in range(6)]
    assert train[0].where == f"{REPO} [train]: row 0" and train[0].prompt == "What is 0 + 1?"
    assert [s.answer for s in eval_samples(cfg, size=0, seed=0)] == ["1", "2", "3"]
    assert datasets.config.HF_HUB_OFFLINE is False  # restored after the load
    with pytest.raises(DataError, match=r"not in the local cache .*Available configs in the cache: \['main'\]"):
        check_data_sources(load_config(None, {"data": {"train": REPO, "subset": "socratic"}}).data)


def test_a_miss_names_the_cache_and_how_to_fill_it(cache):
    cfg = load_config(None, {"data": {"train": "someuser/not_there", "subset": "main"}}).data
    with pytest.raises(DataError) as err:
        check_data_sources(cfg)
    msg = str(err.value)
    assert msg.startswith("'data.train': someuser/not_there: no such file or folder, and not in the local cache")
    assert str(cache) in msg and "datasets.load_dataset('someuser/not_there', 'main')" in msg
    assert "HF_DATASETS_CACHE" in msg
