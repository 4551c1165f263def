"""The `partial` verifier (StructVRM-style partial credit), its step metrics, and the
procedural `multipart` task."""
import json
import time

import pytest

from rlvr.config import ConfigError, load_config
from rlvr.data import PromptStream, eval_samples
from rlvr.data.arithmetic import Problem
from rlvr.data.multipart_task import FORMAT_HINT, MultipartTask
from rlvr.verifiers import STEP_METRICS, Verdict, get
from rlvr.verifiers.partial import PartialVerifier, partial_metrics, reference_parts

PARTIAL_TABLE = [
    # (completion, reference, reward, per-part correctness, why)
    ("(a) \\boxed{7} (b) \\boxed{6}", ["7", "6"], 1.0, [True, True], "both right"),
    ("\\boxed{7} and \\boxed{5}", ["7", "6"], 0.5, [True, False], "1 of 2 right"),
    ("\\boxed{7}", ["7", "6"], 0.5, [True, False], "a part without a box is wrong"),
    ("\\boxed{6} \\boxed{7}", ["7", "6"], 0.0, [False, False], "unlabelled boxes go in order"),
    ("(b) \\boxed{6}\n(a) \\boxed{7}", ["7", "6"], 1.0, [True, True], "labelled boxes go to their parts"),
    ("1) \\boxed{3}\n2) \\boxed{4}\n3) \\boxed{9}", "3; 4; 5", 2 / 3, [True, True, False], "string reference, 2 of 3"),
    ("Part b: \\boxed{2} Part a: \\boxed{0.5}", {"a": "1/2", "b": "2"}, 1.0, [True, True], "dict, 'Part x' labels"),
    ("(speed) \\boxed{3} (time) \\boxed{4}", {"time": "4", "speed": "3"}, 1.0, [True, True], "dict keys as labels"),
    ("f(x) = \\boxed{2}\n(a) \\boxed{1}", ["1", "2"], 0.0, [False, False], "'f(x)' is no label: order"),
    ("(a) \\boxed{1} (a) \\boxed{2}", ["1", "2"], 1.0, [True, True], "a repeated label: order"),
    ("(a) \\boxed{\\frac{1}{2}} (b) \\boxed{x=3}", ["0.5", "3"], 1.0, [True, True], "math-verify equivalence"),
    ("\\boxed{7}\\boxed{6}\\boxed{5}", ["7", "6"], 0.0, [False, False], "more boxes than parts: a hedge"),
    ("\\boxed{7} \\boxed{7}\\boxed{6}", ["7", "6"], 0.0, [False, False], "even the same answer boxed again"),
    ("\\boxed{7} \\boxed{", ["7", "6"], 0.5, [True, False], "an unclosed box is ignored"),
    ("\\boxed{} \\boxed{6}", ["7", "6"], 0.5, [False, True], "an empty box answers nothing"),
    ("", ["7", "6"], 0.0, [False, False], "empty completion"),
    ("the answers are 7 and 6", ["7", "6"], 0.0, [False, False], "no boxes"),
    ("\\boxed{42}", 42, 1.0, [True], "a scalar reference is one part"),
]


@pytest.mark.parametrize("completion, reference, reward, parts, why", PARTIAL_TABLE)
def test_partial_table(completion, reference, reward, parts, why):
    v = get("partial")(completion, reference, {})
    assert v.reward == pytest.approx(reward), why
    assert v.info["parts"] == parts, why


@pytest.mark.parametrize("completion, reward", [
    ("\\boxed{7} \\boxed{6}", 1.0), ("\\boxed{7} \\boxed{5}", 0.0), ("\\boxed{7}", 0.0)])
def test_all_or_nothing(completion, reward):
    assert PartialVerifier(all_or_nothing=True)(completion, ["7", "6"], {}).reward == reward


def test_reasons_and_info():
    hedge = get("partial")("\\boxed{1}\\boxed{2}\\boxed{3}", ["1", "2"], {})
    assert hedge.info["reason"] == "too_many_answers" and hedge.info["boxes"] == 3
    labelled = get("partial")("(b) \\boxed{6} (a) \\boxed{7}", ["7", "6"], {})
    assert labelled.info["matched_by"] == "label" and labelled.info["answers"] == ["7", "6"]
    assert get("partial")("nothing", ["7"], {}).info["reason"] == "no_answer"


@pytest.mark.parametrize("reference, parts", [
    (["1", 2], [("a", "1"), ("b", "2")]),
    ({"x": 1, "y": "2"}, [("x", "1"), ("y", "2")]),
    ("1 ; 2;3", [("a", "1"), ("b", "2"), ("c", "3")]),
])
def test_reference_parts(reference, parts):
    assert reference_parts(reference) == parts


@pytest.mark.parametrize("reference", [None, [], {}, "1;;2", ["1", " "]])
def test_empty_reference_parts_are_errors(reference):
    with pytest.raises(ValueError, match="no parts"):
        get("partial")("\\boxed{1}", reference, {})


def test_hostile_completions():
    hostile = ["", "x" * 1_000_000, "\\boxed{\ud800} \\boxed{2}", "{" * 50_000, "\\boxed{" + "{" * 50_000,
               "\\boxed{9^9^9^9^9} \\boxed{2}", "\\boxed{" + "1" * 5000 + "} \\boxed{2}", "(a) " * 100_000]
    t = time.time()
    verdicts = [get("partial")(c, ["1", "2"], {}) for c in hostile]
    assert time.time() - t < 20
    assert [v.reward for v in verdicts] == [0, 0, 0.5, 0, 0, 0.5, 0.5, 0]
    json.dumps([v.info for v in verdicts])


def test_step_metrics_by_hand():
    # parts [T, T], [T, F, F], [F, F]: all correct 1 of 3 completions; parts right 3 of 7
    verdicts = [get("partial")(c, r, {}) for c, r in (
        ("\\boxed{1} \\boxed{2}", ["1", "2"]), ("\\boxed{1} \\boxed{0}", "1;2;3"), ("", ["1", "2"]))]
    m = partial_metrics(verdicts + [Verdict(0.0, {"error": "timeout"})])
    assert m == {"partial/all_correct_frac": pytest.approx(1 / 3), "partial/part_accuracy": pytest.approx(3 / 7)}
    assert partial_metrics([]) == {} and STEP_METRICS["partial"] is partial_metrics


# --------------------------------------------------------------------------- the multipart task
def test_multipart_task_is_deterministic_and_well_formed():
    a, b = MultipartTask(seed=3).take(50), MultipartTask(seed=3).take(50)
    assert a == b and a != MultipartTask(seed=4).take(50)
    for s in a:
        exprs = s.meta["parts"]
        assert s.meta["task"] == "multipart" and 2 <= len(exprs) <= 3 and len(set(exprs)) == len(exprs)
        expected = []
        for e in exprs:
            x, op, y = e.split()
            expected.append(str(Problem(int(x), op, int(y)).answer))
        assert s.answer == expected
        lines = s.prompt.splitlines()
        assert lines[-1] == FORMAT_HINT and [ln[:3] for ln in lines[:-1]] == ["(a)", "(b)", "(c)"][:len(exprs)]
        assert all(int(x) >= 0 for x in s.answer)
    assert {len(s.answer) for s in a} == {2, 3}


def test_multipart_splits_are_disjoint():
    key = lambda s: tuple(s.meta["parts"])  # noqa: E731
    train = {key(s) for s in MultipartTask(seed=0, eval_fraction=0.3, min_operand=1, max_operand=4).take(400)}
    held = {key(s) for s in MultipartTask(seed=99, split="eval", eval_fraction=0.3, min_operand=1,
                                          max_operand=4).take(200)}
    assert train and held and not train & held
    # word problems change the wording, not the split
    words = MultipartTask(seed=0, eval_fraction=0.3, min_operand=1, max_operand=4, word_problems=True).take(100)
    assert not {key(s) for s in words} & held


def test_multipart_through_the_config():
    cfg = load_config(None, {"data": {"train": "multipart", "eval": "multipart", "multipart": {"max_parts": 2},
                                      "arithmetic": {"min_operand": 0, "max_operand": 1, "ops": ["+"]}}})
    batch = PromptStream(cfg.data, seed=0).next(8)
    assert all(len(s.answer) == 2 and s.meta["task"] == "multipart" for s in batch)
    held = eval_samples(cfg.data, size=5, seed=1)
    assert len(held) == 5 and all(s.meta["task"] == "multipart" for s in held)
    # the model's own correct answer, boxed in order, earns full credit
    s = batch[0]
    assert get("partial")(" ".join(f"\\boxed{{{a}}}" for a in s.answer), s.answer, s.meta).reward == 1.0


@pytest.mark.parametrize("over", [{"min_parts": 0}, {"min_parts": 3, "max_parts": 2}, {"max_parts": 27}])
def test_multipart_config_checked(over):
    with pytest.raises(ConfigError, match="data.multipart"):
        load_config(None, {"data": {"multipart": over}})


def test_multipart_too_few_distinct_problems():
    # operands 0..0 with + give one problem only: three distinct parts cannot be drawn
    with pytest.raises(ValueError, match="distinct"):
        MultipartTask(seed=0, min_parts=3, max_parts=3, min_operand=0, max_operand=0, ops=["+"])[0]


def test_a_copied_format_hint_is_not_an_answer():
    # the multipart prompt ends with "Answer each part in its own \boxed{} in order."; a policy
    # that repeats it writes an empty box. Without the echo guard that box is a third answer to a
    # two-part question: too_many_answers, reward 0. With it, both real answers count: 2/2.
    prompt = "(a) What is 1 + 2?\n(b) What is 5 - 4?\nAnswer each part in its own \\boxed{} in order."
    completion = "Answer each part in its own \\boxed{} in order. (a) \\boxed{3} (b) \\boxed{1}"
    meta = {"prompt": prompt, "context": "Solve it.\n\n" + prompt}
    assert get("partial")(completion, ["3", "1"], meta).reward == 1.0
    assert get("partial")(completion, ["3", "1"], {}).info["reason"] == "too_many_answers"
