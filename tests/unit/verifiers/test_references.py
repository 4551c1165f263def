"""A reference the configured verifier cannot compare stops the run before the model loads
(issue 11 item 2: verl's `reward_model` dict handed to `math` trained 20 steps at reward 0)."""
import json

import pytest

from rlvr.config import load_config
from rlvr.data import DataError, load_file
from rlvr.types import Sample
from rlvr.verifiers.references import accepts, check_references, reference_types


def _verl(tmp_path):
    f = tmp_path / "train.jsonl"
    rows = [{"data_source": "openai/gsm8k", "prompt": [{"role": "user", "content": f"What is {i} + 1?"}],
             "ability": "math", "reward_model": {"style": "rule", "ground_truth": str(i + 1)}} for i in range(3)]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return f


def _specs(*names):
    return load_config(None, {"reward": {"verifiers": [{"name": n} for n in names]}}).reward.verifiers


def test_a_dict_reference_for_math_names_file_row_field_verifier_and_the_fix(tmp_path):
    f = _verl(tmp_path)
    rows = load_file(f, answer_field="reward_model")
    with pytest.raises(DataError) as err:
        check_references(rows, _specs("format", "math"), answer_field="reward_model", what="training")
    assert str(err.value) == (
        f"{f}:1: field 'reward_model' holds a dict (keys: style, ground_truth), but the verifier 'math' "
        "(reward.verifiers[1]) compares a reference of type str, int or float; name the answer inside it with "
        "a dotted path: data.answer_field: reward_model.ground_truth")
    check_references(load_file(f, answer_field="reward_model.ground_truth"), _specs("math"),
                     answer_field="reward_model.ground_truth", what="training")


def test_lists_bools_and_what_each_verifier_takes():
    parts = [Sample("q", ["1", "2"], where="d.jsonl:4")]
    with pytest.raises(DataError, match=r"d.jsonl:4: field 'answer' holds a list of 2 items, but the verifier "
                                        r"'strict' .*the `partial` verifier"):
        check_references(parts, _specs("strict"), answer_field="answer", what="training")
    check_references(parts, _specs("partial", "format", "majority"), answer_field="answer", what="training")
    with pytest.raises(DataError, match="holds a bool"):
        check_references([Sample("q", True, where="d.jsonl:1")], _specs("math"), answer_field="answer", what="x")
    generated = [Sample("What is 1+2?", {"a": 1})]
    with pytest.raises(DataError, match=r"^a generated held-out prompt \('What is 1\+2\?'\): field 'answer'"):
        check_references(generated, _specs("math"), answer_field="answer", what="held-out")


def test_a_plug_in_without_a_declaration_accepts_anything():
    class Mine:
        name = "mine"

    class Strict:
        reference_types = (int,)

    assert reference_types(Mine) == (object,) and accepts(reference_types(Mine), {"x": [1]})
    assert accepts(reference_types(Strict), 3) and not accepts(reference_types(Strict), "3")


def test_procedural_tasks_pass_with_their_own_verifier_and_fail_with_another():
    from rlvr.data import PromptStream

    cfg = load_config(None, {"data": {"train": "multipart"}, "reward": {"verifiers": [{"name": "partial"}]}})
    rows = PromptStream(cfg.data, seed=0).first(8)
    check_references(rows, cfg.reward.verifiers, answer_field="answer", what="training")
    with pytest.raises(DataError, match="a generated training prompt"):
        check_references(rows, _specs("math"), answer_field="answer", what="training")
