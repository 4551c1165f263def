"""reasoning-gym as a data source: the task object (determinism, disjoint splits, options,
mixes, JSON references), the prompt stream and held-out set built from `data.train: rg:…`."""
import json
import re

import pytest

pytest.importorskip("reasoning_gym")

from rlvr.config import load_config  # noqa: E402
from rlvr.data import PromptStream, eval_samples  # noqa: E402
from rlvr.data.arithmetic import hash_split  # noqa: E402
from rlvr.data.reasoning_gym import (EVAL_GROUP, ReasoningGymTask, item_seed, parse_source, plain,  # noqa: E402
                                     weighted_cycle)

TWO_TERMS = {"chain_sum": {"min_terms": 2, "max_terms": 2, "min_digits": 1, "max_digits": 1}}


def _numbers(question: str) -> list[int]:
    return [int(x) for x in re.findall(r"\d+", question.split(":", 1)[1])]


def test_items_depend_only_on_seed_split_and_index():
    a = ReasoningGymTask("rg:chain_sum", seed=3, split="train")
    b = ReasoningGymTask("rg:chain_sum", seed=3, split="train")
    assert a.take(20) == b.take(20)
    assert a[7] == a.take(8)[7] == b.take(3, start=7)[0]  # random access, whatever was drawn before
    assert a.take(20) != ReasoningGymTask("rg:chain_sum", seed=4, split="train").take(20)


def test_train_and_held_out_questions_are_disjoint_and_their_seeds_differ_in_parity():
    # one-digit two-term sums: a few hundred distinct questions, so seeds alone would repeat them
    train = ReasoningGymTask("rg:chain_sum", seed=0, split="train", options=TWO_TERMS, eval_fraction=0.3)
    held = ReasoningGymTask("rg:chain_sum", seed=0, split="eval", options=TWO_TERMS, eval_fraction=0.3)
    tq = {s.prompt for s in train.take(300)}
    eq = {s.prompt for s in held.take(100)}
    assert len(tq) > 50 and len(eq) > 20
    assert not tq & eq
    assert all(hash_split(f"rg:chain_sum:{q}", 0.3) == "eval" for q in eq)
    assert {item_seed(0, "train", "chain_sum", i, d) % 2 for i in range(50) for d in range(3)} == {0}
    assert {item_seed(0, "eval", "chain_sum", i, d) % 2 for i in range(50) for d in range(3)} == {1}


def test_task_options_reach_reasoning_gym_and_the_reference():
    task = ReasoningGymTask("rg:chain_sum", seed=0, options=TWO_TERMS)
    for s in task.take(30):
        nums = _numbers(s.prompt)
        assert len(nums) == 2 and all(0 <= n <= 9 for n in nums), s.prompt
        assert s.answer["task"] == "chain_sum" and s.answer["options"] == TWO_TERMS["chain_sum"]
        a, b = nums
        op = "+" if "+" in s.prompt.split(":", 1)[1] else "-"
        assert s.answer["entry"]["answer"] == str(a + b if op == "+" else a - b)  # reasoning-gym's own answer
    wide = ReasoningGymTask("rg:chain_sum", seed=0, options={"chain_sum": {"min_terms": 5, "max_terms": 5}})
    assert all(len(_numbers(s.prompt)) == 5 for s in wide.take(10))


def test_a_weighted_mix_cycles_through_its_tasks_in_exact_shares():
    assert parse_source("rg:chain_sum:2,leg_counting") == [("chain_sum", 2), ("leg_counting", 1)]
    assert weighted_cycle([("a", 2), ("b", 1)]) == ["a", "b", "a"]
    task = ReasoningGymTask("rg:chain_sum:2,leg_counting", seed=0)
    groups = [s.meta[EVAL_GROUP] for s in task.take(30)]
    assert groups.count("chain_sum") == 20 and groups.count("leg_counting") == 10
    legs = [s for s in task.take(6) if s.meta[EVAL_GROUP] == "leg_counting"]
    assert legs and all("legs" in s.prompt and s.answer["task"] == "leg_counting" for s in legs)


@pytest.mark.parametrize("source, message", [
    ("rg:", "names no task"), ("rg:chain_sum,", "names no task"), ("rg:chain_sum:0", "bad weight"),
    ("rg:chain_sum:x", "bad weight"), ("rg:chain_sum,chain_sum", "twice"),
])
def test_malformed_sources_are_refused(source, message):
    with pytest.raises(ValueError, match=message):
        parse_source(source)


def test_the_reference_is_json_data_that_scores_its_own_answer():
    from rlvr.verifiers.reasoning_gym import ReasoningGymVerifier

    v = ReasoningGymVerifier()
    for s in ReasoningGymTask("rg:chain_sum,leg_counting", seed=1, split="eval").take(6):
        assert json.loads(json.dumps(s.answer)) == s.answer  # crosses the pool and reaches samples.jsonl
        assert isinstance(s.answer["entry"]["metadata"]["difficulty"]["num_terms" if s.answer["task"] == "chain_sum"
                                                                      else "num_animals"], list)  # was a tuple
        assert v(f"<answer>{s.answer['entry']['answer']}</answer>", s.answer, {}).reward == 1.0
    assert plain({"a": (1, 2), "b": {3}}, "x") == {"a": [1, 2], "b": [3]}
    with pytest.raises(ValueError, match="holds a object"):
        plain({"a": object()}, "x")


def test_prompt_stream_and_held_out_set_from_the_config(tiny_config_path):
    cfg = load_config(tiny_config_path, ["--data.train=rg:chain_sum,leg_counting",
                                         "--data.eval=rg:chain_sum,leg_counting",
                                         "--reward.verifiers=[{name: reasoning_gym}]",
                                         "--data.rg={chain_sum: {max_terms: 2}}"])
    stream = PromptStream(cfg.data, cfg.run.seed)
    first = stream.next(4)
    assert [s.meta[EVAL_GROUP] for s in first] == ["chain_sum", "leg_counting"] * 2
    assert all(len(_numbers(s.prompt)) == 2 for s in first if s.meta[EVAL_GROUP] == "chain_sum")
    state = stream.state_dict()
    following = stream.next(4)
    resumed = PromptStream(cfg.data, cfg.run.seed)
    resumed.load_state_dict(state)
    assert resumed.next(4) == following  # a resumed run continues with the same prompts
    held = eval_samples(cfg.data, size=10, seed=cfg.eval.seed)
    assert len(held) == 10 and not {s.prompt for s in held} & {s.prompt for s in first + following}
    limited = load_config(tiny_config_path, ["--data.train=rg:chain_sum", "--data.eval=rg:chain_sum",
                                             "--reward.verifiers=[{name: reasoning_gym}]", "--data.train_limit=1"])
    one = PromptStream(limited.data, 0)
    assert len({s.prompt for s in one.next(5)}) == 1  # the 1-shot setting works on rg: sources too


def test_the_meta_key_is_the_one_evaluation_groups_by():
    from rlvr.eval.evaluate import EVAL_GROUP as evaluated

    assert EVAL_GROUP == evaluated
