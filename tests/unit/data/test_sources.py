"""Data as users have it (issue 11): dotted field paths, every source kind built here on
disk (JSON, Parquet, Arrow, shards, globs, save_to_disk, a hub-cache entry), splits, and
the errors each raises before anything loads."""
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rlvr.config import load_config
from rlvr.data import DataError, PromptStream, check_data_sources, eval_samples, load_file
from rlvr.data.sources import load_source, resolve


def verl_row(i, question="What is 2 + 3?", truth="5"):
    """A row as verl's examples/data_preprocess/gsm8k.py writes it."""
    return {"data_source": "openai/gsm8k", "prompt": [{"role": "user", "content": question}], "ability": "math",
            "reward_model": {"style": "rule", "ground_truth": truth},
            "extra_info": {"split": "train", "index": i, "answer": f"2 + 3 = 5\n#### {truth}", "question": question}}


def _data(**over):
    return load_config(None, {"data": over}).data


def test_dotted_answer_field_reaches_into_verl_rows(tmp_path):
    f = tmp_path / "verl.jsonl"
    f.write_text("".join(json.dumps(verl_row(i)) + "\n" for i in range(2)))
    rows = load_file(f, answer_field="reward_model.ground_truth")
    assert rows[0].answer == "5" and rows[0].prompt == [{"role": "user", "content": "What is 2 + 3?"}]
    assert rows[1].meta["data_source"] == "openai/gsm8k" and rows[1].meta["extra_info"]["index"] == 1
    assert rows[0].where == f"{f}:1"


def test_a_missing_path_part_names_file_row_path_and_the_keys_there(tmp_path):
    f = tmp_path / "verl.jsonl"
    f.write_text(json.dumps(verl_row(0)) + "\n" + json.dumps({**verl_row(1), "reward_model": {"style": "rule"}}) + "\n")
    with pytest.raises(DataError) as err:
        load_file(f, answer_field="reward_model.ground_truth")
    assert str(err.value) == (f"{f}:2: missing field 'reward_model.ground_truth' (no 'ground_truth' in "
                              "'reward_model', whose keys are: style)")
    with pytest.raises(DataError, match=r":1: field 'ability.x': 'ability' is a str, not an object with a key 'x'"):
        load_file(f, answer_field="ability.x")
    with pytest.raises(DataError, match=r":1: missing field 'reward' \(fields present: data_source, prompt, "):
        load_file(f, answer_field="reward")


def test_a_column_whose_name_has_dots_is_found_first(tmp_path):
    f = tmp_path / "d.jsonl"
    f.write_text(json.dumps({"prompt": "q", "a.b": "1", "a": {"b": "2"}}) + "\n")
    assert load_file(f, answer_field="a.b")[0].answer == "1"


def test_json_list_and_json_lines(tmp_path):
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([{"prompt": "a", "answer": 1}, {"prompt": "b", "answer": "x"}]))
    assert [s.answer for s in load_file(listed)] == [1, "x"]  # types may vary by row, as written
    lines = tmp_path / "lines.json"
    lines.write_text('{"prompt": "a", "answer": 1}\n{"prompt": "b", "answer": 2}\n')
    assert [s.answer for s in load_file(lines)] == [1, 2]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"prompt": "a", "answer": 1}, {"prompt": "b"}]))
    with pytest.raises(DataError, match=r"bad.json: row 1: missing field 'answer'"):
        load_file(bad)
    broken = tmp_path / "broken.json"
    broken.write_text('{"prompt": "a", "answer": 1}\n{"prompt": "b", "answer": \n')
    with pytest.raises(DataError, match=r"broken.json:2: invalid JSON"):
        load_file(broken)


def test_verl_parquet_with_nested_columns(tmp_path):
    f = tmp_path / "train.parquet"
    pq.write_table(pa.Table.from_pylist([verl_row(0), verl_row(1, "What is 7 + 1?", "8")]), f)
    rows = load_file(f, answer_field="reward_model.ground_truth")
    assert [s.answer for s in rows] == ["5", "8"] and rows[1].where == f"{f}: row 1"
    assert rows[1].prompt == [{"role": "user", "content": "What is 7 + 1?"}]
    assert rows[0].meta["reward_model"] == {"style": "rule", "ground_truth": "5"}


def test_arrow_files_stream_and_file_format(tmp_path):
    table = pa.table({"prompt": ["a", "b"], "answer": ["1", "2"]})
    for name, writer in (("s.arrow", pa.ipc.new_stream), ("f.arrow", pa.ipc.new_file)):
        with writer(str(tmp_path / name), table.schema) as w:
            w.write_table(table)
        assert [s.answer for s in load_file(tmp_path / name)] == ["1", "2"], name


def _shards(folder, name, rows, n):
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        pq.write_table(pa.Table.from_pylist(rows[k::n]), folder / f"{name}-{k:05d}-of-{n:05d}.parquet")


def test_a_folder_of_shards_has_the_splits_its_file_names_say(tmp_path):
    rows = [{"prompt": f"q{i}", "answer": str(i)} for i in range(6)]
    _shards(tmp_path / "data", "train", rows, 2)
    _shards(tmp_path / "data", "test", rows[:2], 1)
    (tmp_path / "data" / "README.md").write_text("# a dataset card, not data\n")
    cfg = _data(train=str(tmp_path / "data"), eval=str(tmp_path / "data"))
    check_data_sources(cfg)
    train = load_source(cfg.train, cfg, "train")
    assert sorted(s.answer for s in train) == [str(i) for i in range(6)]
    assert train[0].where.endswith("train-00000-of-00002.parquet: row 0")
    assert [s.answer for s in eval_samples(cfg, size=0, seed=0)] == ["0", "1"]
    with pytest.raises(DataError, match=r"no split 'validation' \(its splits: train, test\); fix 'data.eval_split'"):
        load_source(cfg.eval, _data(eval=cfg.eval, eval_split="validation"), "eval")


def test_a_folder_with_files_rlvr_cannot_read_is_refused(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.parquet").write_bytes(b"")
    (tmp_path / "d" / "b.csv").write_text("prompt,answer\n")
    with pytest.raises(DataError, match=r"b.csv: unsupported data file type '.csv'"):
        resolve(str(tmp_path / "d"))
    (tmp_path / "e").mkdir()
    with pytest.raises(DataError, match="holds no data files"):
        resolve(str(tmp_path / "e"))


def test_a_glob_reads_every_match_in_order(tmp_path):
    rows = [{"prompt": f"q{i}", "answer": str(i)} for i in range(4)]
    _shards(tmp_path, "part", rows, 2)
    cfg = _data(train=str(tmp_path / "part-*.parquet"))
    assert [s.answer for s in PromptStream(cfg, seed=0).rows] == ["0", "2", "1", "3"]
    with pytest.raises(DataError, match=r"'data.train': no file matches the glob"):
        check_data_sources(_data(train=str(tmp_path / "nothing-*.parquet")))


def test_save_to_disk_dataset_and_dataset_dict(tmp_path):
    datasets = pytest.importorskip("datasets")
    one = datasets.Dataset.from_list([{"prompt": "a", "solution": "1"}, {"prompt": "b", "solution": "2"}])
    one.save_to_disk(str(tmp_path / "one"))
    cfg = _data(train=str(tmp_path / "one"), answer_field="solution")
    assert [s.answer for s in PromptStream(cfg, seed=0).rows] == ["1", "2"]
    with pytest.raises(DataError, match=r"'data.train_split' is 'train', but .* has no splits"):
        check_data_sources(_data(train=str(tmp_path / "one"), train_split="train"))
    both = datasets.DatasetDict({"train": one, "validation": one.select([1])})
    both.save_to_disk(str(tmp_path / "both"))
    cfg = _data(train=str(tmp_path / "both"), eval=str(tmp_path / "both"), answer_field="solution",
                eval_split="validation")
    check_data_sources(cfg)
    assert [s.answer for s in eval_samples(cfg, size=0, seed=0)] == ["2"]
    assert eval_samples(cfg, size=0, seed=0)[0].where == f"{tmp_path / 'both'} [validation]: row 0"
    with pytest.raises(DataError, match=r"has the splits train, validation and none is 'test'; choose one with "
                                        r"'data.eval_split'"):
        check_data_sources(_data(eval=str(tmp_path / "both")))


def test_missing_and_unknown_sources_fail_at_config_time(tmp_path):
    with pytest.raises(DataError, match=r"'data.train': data file or folder not found: .*none.parquet"):
        check_data_sources(_data(train=str(tmp_path / "none.parquet")))
    (tmp_path / "x.csv").write_text("a,b\n")
    with pytest.raises(DataError, match=r"'data.eval': .*unsupported data file type '.csv'"):
        check_data_sources(_data(eval=str(tmp_path / "x.csv")))
    with pytest.raises(DataError, match=r"'data.train': arithmetc: no such file .*\(nor a procedural task: arithmetic, "):
        check_data_sources(_data(train="arithmetc"))
    with pytest.raises(DataError, match="'data.subset' .* neither 'data.train' nor 'data.eval' is one"):
        check_data_sources(_data(subset="main"))


def test_rlvr_config_refuses_what_train_would_refuse(tmp_path, capsys):
    """Issue 11 item 9: such sources passed `rlvr config` and failed only in `rlvr train`."""
    from rlvr.cli import main

    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "rows.csv").write_text("prompt,answer\n")
    assert main(["config", f"--data.train={tmp_path / 'd'}"]) == 2
    assert "'data.train': " in capsys.readouterr().err
    pq.write_table(pa.table({"prompt": ["a"], "answer": ["1"]}), tmp_path / "train-0.parquet")
    assert main(["config", f"--data.train={tmp_path / 'train-*.parquet'}", "--data.eval="]) == 0
    assert f"train: {tmp_path / 'train-*.parquet'}" in capsys.readouterr().out
