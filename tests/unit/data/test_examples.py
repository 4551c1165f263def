"""The committed example datasets are what examples/make_data.py writes, in the formats
their configs promise (verl's columns; TRL's prompt/solution in a save_to_disk DatasetDict)."""
import importlib.util

import pytest

from rlvr.config import load_config
from rlvr.data import PromptStream, check_data_sources, eval_samples
from tests.conftest import ROOT

datasets = pytest.importorskip("datasets")


def _make_data():
    spec = importlib.util.spec_from_file_location("make_data", ROOT / "examples" / "make_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_files_are_the_generators_output():
    make = _make_data()
    for split in ("train", "test"):
        written = datasets.load_dataset("parquet", data_files=str(ROOT / "examples" / "verl_gsm8k" / f"{split}.parquet"),
                                        split="train", streaming=True)
        assert list(written) == make.verl_rows(split)
    saved = datasets.load_from_disk(str(ROOT / "examples" / "trl_prompt_solution" / "dataset"))
    assert {k: list(v) for k, v in saved.items()} == {s: make.trl_rows(s) for s in ("train", "test")}


def test_verl_rows_have_verls_columns():
    row = _make_data().verl_rows("train")[0]
    assert set(row) == {"data_source", "prompt", "ability", "reward_model", "extra_info"}
    assert row["reward_model"]["style"] == "rule" and set(row["extra_info"]) == {"split", "index", "answer", "question"}
    assert row["extra_info"]["answer"].endswith("#### " + row["reward_model"]["ground_truth"])


@pytest.mark.parametrize("example", ["verl_gsm8k", "trl_prompt_solution"])
def test_the_example_configs_load_every_row(example, monkeypatch):
    monkeypatch.chdir(ROOT)  # the configs name their files from the repository root
    cfg = load_config(str(ROOT / "examples" / example / "config.yaml"))
    check_data_sources(cfg.data)
    train, held_out = PromptStream(cfg.data, seed=0).rows, eval_samples(cfg.data, size=0, seed=0)
    assert (len(train), len(held_out)) == (64, 32)
    assert all(isinstance(s.answer, str) and s.answer.isdigit() for s in train + held_out)
    assert not {str(s.prompt) for s in train} & {str(s.prompt) for s in held_out}
