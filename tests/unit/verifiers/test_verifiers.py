import time

import pytest

from rlvr.verifiers import REGISTRY, Verdict, get
from rlvr.verifiers.extract import boxed_contents, last_boxed, last_match
from rlvr.verifiers.pool import VerifierPool
from rlvr.verifiers.reward import RewardFunction

MATH_TABLE = [
    # (completion, reference, reward, why)
    ("so the sum is \\boxed{42}.", "42", 1.0, "right"),
    ("so the sum is \\boxed{41}.", "42", 0.0, "wrong"),
    ("half: \\boxed{0.5}", "\\frac{1}{2}", 1.0, "0.5 equals 1/2"),
    ("half: \\boxed{\\frac{1}{2}}", "0.5", 1.0, "nested braces inside the box"),
    ("\\boxed{\\dfrac{3}{6}}", "1/2", 1.0, "unsimplified fraction"),
    ("\\boxed{x = 5}", "5", 1.0, "an equation's right side"),
    ("the answer is 42", "42", 1.0, "no box: the stated answer"),
    ("So the final answer is $42$.", "42", 1.0, "dollars and full stop stripped"),
    ("Final answer: 42 apples", "42", 1.0, "trailing unit word"),
    ("\\boxed{42\\text{ cm}}", "42", 1.0, "trailing \\text unit"),
    ("\\boxed{\\text{yes}}", "\\text{yes}", 1.0, "a \\text answer alone is the answer, not a unit"),
    ("\\boxed{\\text{no}}", "\\text{yes}", 0.0, "a different \\text answer"),
    ("\\boxed{$\\frac{1}{2}$}", "0.5", 1.0, "dollars inside the box"),
    ("the answer is 41 \\boxed{42}", "42", 1.0, "a box wins over a phrase"),
    ("I think 42 is it", "42", 0.0, "no box, no phrase: no answer"),
    ("\\boxed{}", "42", 0.0, "empty box"),
    ("\\boxed{41} no wait \\boxed{42}", "42", 0.0, "hacking guard: two different answers"),
    ("\\boxed{42} no wait \\boxed{41}", "42", 0.0, "hacking guard: two different answers"),
    ("\\boxed{42} so \\boxed{ 42 }", "42", 1.0, "the same answer twice is fine"),
    ("\\boxed{9^9^9^9^9}", "42", 0.0, "a huge power must not hang"),
    ("\\boxed{" + "{" * 50_000, "42", 0.0, "deeply nested unclosed braces"),
    ("\\boxed{4\ud8002}", "42", 0.0, "lone surrogate"),
    ("\\boxed{42", "42", 0.0, "unclosed box"),
    ("\\fbox{42}", "42", 1.0, "fbox"),
    ("\\boxed {7}", "7", 1.0, "space before the brace"),
]


@pytest.mark.parametrize("completion, reference, reward, why", MATH_TABLE)
def test_math_verifier_table(completion, reference, reward, why):
    assert get("math")(completion, reference, {}).reward == reward, why


def test_math_verifier_says_why():
    assert get("math")("nothing here", "1", {}).info["reason"] == "no_answer"
    v = get("math")("\\boxed{3}", "3", {})
    assert v.info == {"answer": "3", "correct": True}


def test_hacking_guard_names_the_answers_and_can_be_turned_off():
    v = get("math")("\\boxed{41} or \\boxed{42}", "42", {})
    assert v.reward == 0 and v.info == {"reason": "several_answers", "answers": ["41", "42"]}
    assert get("math", hacking_guard=False)("\\boxed{41} or \\boxed{42}", "42", {}).reward == 1.0
    assert get("math", answer_phrases=False)("the answer is 42", "42", {}).reward == 0.0


def test_math_verifier_on_a_megabyte_is_quick():
    t = time.time()
    assert get("math")("x" * 1_000_000 + " the answer is 42", "42", {}).reward == 1.0
    assert get("math")("\\boxed{1}" * 100_000, "1", {}).reward == 1.0
    assert time.time() - t < 5


def test_answer_pattern_replaces_the_box():
    v = get("math", answer_pattern=r"answer is (-?\d+)")
    assert v("I think the answer is 12, yes", "12", {}).reward == 1.0
    assert v("\\boxed{12}", "12", {}).reward == 0.0


FORMAT_TABLE = [
    ("12 + 7 = 19. The answer is \\boxed{19}.", 1.0, None),
    ("The answer is 19.", 0.0, "no_box"),
    ("\\boxed{}", 0.0, "empty_box"),
    ("\\boxed{19", 0.0, "unclosed_box"),
    ("\\boxed{19} or \\boxed{20}", 0.0, "several_answers"),
    ("\\boxed{19} and \\boxed{19}.", 1.0, None),
    ("\\boxed{19} because I said so", 0.0, "text_after_answer"),
]


@pytest.mark.parametrize("completion, reward, reason", FORMAT_TABLE)
def test_format_verifier_table(completion, reward, reason):
    v = get("format")(completion, None, {})
    assert v.reward == reward and v.info.get("reason") == reason


def test_extraction_helpers():
    assert boxed_contents("a \\boxed{1} b \\boxed{{2}} c \\boxed{3") == ["1", "{2}", None]
    assert last_boxed("\\boxed{1} \\boxed{2") == "1"
    assert last_boxed("{" * 100_000 + "\\boxed{" + "{" * 100_000) is None  # linear, no recursion
    assert last_match("a1 b22 c", r"(\d+)") == "22" and last_match("none", r"\d") is None


def test_unknown_verifier_lists_the_names():
    with pytest.raises(ValueError, match="math"):
        get("nope")
    assert {"math", "format"} <= set(REGISTRY)


@pytest.fixture(scope="module")
def pool():
    with VerifierPool([("math", {}), ("format", {})], workers=2, timeout_s=2.0) as p:
        yield p


def test_pool_keeps_order(pool):
    tasks = [(0, f"\\boxed{{{i}}}", str(i if i % 3 else i + 1), {}) for i in range(40)]
    verdicts = pool.run(tasks)
    assert [v.reward for v in verdicts] == [0.0 if i % 3 == 0 else 1.0 for i in range(40)]


def test_pool_turns_a_hang_into_reward_zero():
    # math-verify's own limit is set to 60 s here, so only the pool's hard 1 s limit can stop
    # the comparison of 5 with a tower of exponents (SymPy grinds on it far longer)
    tower = "\\boxed{10^{10^{10^{10}}}}"
    with VerifierPool([("math", {"timeout_s": 60})], workers=1, timeout_s=1.0) as pool:
        t = time.time()
        verdicts = pool.run([(0, tower, "5", {}), (0, "\\boxed{5}", "5", {})])
        assert time.time() - t < 30
        assert verdicts[0].reward == 0.0 and verdicts[0].info["error"] == "timeout"
        assert "1s" in verdicts[0].info["reason"]
        assert verdicts[1].reward == 1.0  # a fresh worker took over
        assert pool.timeouts == 1


def test_pool_turns_an_exception_into_reward_zero(pool):
    # an empty reference cannot be parsed: MathVerifier raises ValueError inside the worker
    v, after = pool.run([(0, "\\boxed{1}", "", {}), (0, "\\boxed{1}", "1", {})])
    assert v.reward == 0.0 and v.info["error"].startswith("ValueError: reference answer")
    assert after.reward == 1.0  # the same worker goes on


def test_reward_function_weights_and_metrics():
    fn = RewardFunction([("math", 1.0, {}), ("format", 0.5, {})], workers=1, timeout_s=5)
    try:
        s = fn(["\\boxed{3}", "3", "\\boxed{4}"], ["3", "3", "3"])
    finally:
        fn.close()
    assert s.rewards == [1.5, 0.0, 0.5]
    assert s.correct == [True, False, False]
    assert s.metrics["reward/math"] == pytest.approx(1 / 3) and s.metrics["reward/format"] == pytest.approx(2 / 3)
    assert isinstance(s.verdicts[0]["math"], Verdict)


def test_pool_survives_a_worker_that_died_while_idle():
    with VerifierPool([("math", {})], workers=1, timeout_s=5.0) as pool:
        assert pool.run([(0, "\\boxed{1}", "1", {})])[0].reward == 1.0
        pool._workers[0].proc.kill()  # e.g. the OOM killer between two steps
        pool._workers[0].proc.join()
        verdicts = pool.run([(0, "\\boxed{2}", "2", {}), (0, "\\boxed{3}", "4", {})])
        assert [v.reward for v in verdicts] == [1.0, 0.0] and pool.crashes == 1


def test_pool_info_keeps_plain_json_and_reprs_the_rest():
    from rlvr.verifiers.pool import MAX_INFO_CHARS, _safe_info
    info = _safe_info({"answers": ["41", "42"], "nested": {"a": [1, 2.5, None]}, "obj": object(),
                       "big": "x" * (MAX_INFO_CHARS + 10)})
    assert info["answers"] == ["41", "42"] and info["nested"] == {"a": [1, 2.5, None]}
    assert isinstance(info["obj"], str) and info["obj"].startswith("<object")
    assert isinstance(info["big"], str) and len(info["big"]) == 500  # a truncated repr
