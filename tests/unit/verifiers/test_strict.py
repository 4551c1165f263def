import time

import pytest

from rlvr.verifiers import REGISTRY, get
from rlvr.verifiers.strict import normalize

STRICT_TABLE = [
    # (completion, reference, reward, why)
    ("so the sum is \\boxed{42}.", "42", 1.0, "identical"),
    ("so the sum is \\boxed{41}.", "42", 0.0, "wrong"),
    ("\\boxed{ 42 }", "42", 1.0, "surrounding whitespace"),
    ("\\boxed{$42$}", "42", 1.0, "dollars inside the box"),
    ("\\boxed{$$42$$}", "42", 1.0, "double dollars"),
    ("the answer is $42$.", "42", 1.0, "answer phrase, dollars, full stop"),
    ("\\boxed{42.}", "42", 1.0, "trailing full stop"),
    ("\\boxed{42}", "$42$", 1.0, "the reference is normalised too"),
    ("\\boxed{42}", 42, 1.0, "a number reference is compared as its text"),
    ("\\boxed{0.5}", "\\frac{1}{2}", 0.0, "no math parsing: 0.5 is not 1/2"),
    ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}", 1.0, "nested braces inside the box"),
    ("\\boxed{\\frac12}", "\\frac{1}{2}", 0.0, "LaTeX shorthand differs as text"),
    ("\\boxed{x = 3}", "3", 0.0, "an equation is not its value"),
    ("\\boxed{42 cm}", "42", 0.0, "units are kept"),
    ("\\boxed{42\\text{ cm}}", "42", 0.0, "\\text units are kept"),
    ("\\boxed{3.0}", "3", 0.0, "3.0 is not 3 as text"),
    ("\\boxed{4 2}", "42", 0.0, "inner spaces matter"),
    ("\\boxed{A}", "a", 0.0, "case matters"),
    ("I think 42 is it", "42", 0.0, "no box, no phrase: no answer"),
    ("the answer is 41 \\boxed{42}", "42", 1.0, "a box wins over a phrase"),
    ("\\boxed{41} no wait \\boxed{42}", "42", 0.0, "hacking guard: two different answers"),
    ("\\boxed{42} then \\boxed{ 42 }", "42", 1.0, "the same answer twice is fine"),
    ("\\fbox{42}", "42", 1.0, "fbox"),
    # hostile output: never a crash, never a match
    ("", "42", 0.0, "empty"),
    ("\\boxed{}", "42", 0.0, "empty box"),
    ("\\boxed{.}", ".", 0.0, "nothing left after normalisation"),
    ("\\boxed{$}", "42", 0.0, "a lone dollar"),
    ("\\boxed{42", "42", 0.0, "unclosed box"),
    ("\\boxed{" + "{" * 50_000, "42", 0.0, "deeply nested unclosed braces"),
    ("\\boxed{" + "{" * 5_000 + "}" * 5_001, "42", 0.0, "deeply nested closed braces"),
    ("\\boxed{4\ud8002}", "42", 0.0, "lone surrogate"),
    ("\\boxed{\ud800}", "\ud800", 1.0, "a surrogate compares as any character"),
    ("\\boxed{" + "$" * 999 + "}", "42", 0.0, "a wall of dollars"),
    ("\\boxed{" + "7" * 1001 + "}", "7" * 1001, 0.0, "an answer over 1,000 characters is not one"),
]


@pytest.mark.parametrize("completion, reference, reward, why", STRICT_TABLE)
def test_strict_verifier_table(completion, reference, reward, why):
    assert get("strict")(completion, reference, {}).reward == reward, why


NORMALIZE_TABLE = [
    # (text, normalised)
    (" 42 ", "42"),
    ("$42$", "42"),
    (" $42$. ", "42"),
    ("$42.$", "42"),
    ("$$\\frac{1}{2}$$", "\\frac{1}{2}"),
    ("$42", "$42"),  # unbalanced dollars are content
    ("$", "$"),
    ("$$", "$$"),
    ("x = 3", "x = 3"),
    ("3.14", "3.14"),
    ("...", ""),
]


@pytest.mark.parametrize("text, expected", NORMALIZE_TABLE)
def test_normalize_table(text, expected):
    assert normalize(text) == expected


def test_normalize_false_compares_the_raw_text():
    strict = get("strict", normalize=False)
    assert strict("\\boxed{42}", "42", {}).reward == 1.0
    assert strict("\\boxed{$42$}", "42", {}).reward == 0.0
    assert strict("\\boxed{ 42}", "42", {}).reward == 0.0


def test_answer_pattern_and_options():
    strict = get("strict", answer_pattern=r"ANSWER: (\S+)")
    assert strict("ANSWER: 1 ... ANSWER: 7", "7", {}).reward == 1.0
    assert strict("\\boxed{7}", "7", {}).info == {"reason": "no_answer"}
    assert get("strict", hacking_guard=False)("\\boxed{41} \\boxed{42}", "42", {}).reward == 1.0
    assert get("strict", answer_phrases=False)("the answer is 42", "42", {}).reward == 0.0


def test_info_says_why():
    assert get("strict")("\\boxed{$3$}", "3", {}).info == {"answer": "3", "correct": True}
    assert get("strict")("\\boxed{0.5}", "1/2", {}).info == {"answer": "0.5", "correct": False}
    v = get("strict")("\\boxed{41} or \\boxed{42}", "42", {})
    assert v.info == {"reason": "several_answers", "answers": ["41", "42"]}
    assert get("strict")("\\boxed{" + "1" * 2000 + "}", "1", {}).info["reason"] == "answer_too_long"


@pytest.mark.parametrize("reference", [None, True, ["42"], {"a": 1}])
def test_a_reference_that_is_not_text_is_an_error(reference):
    with pytest.raises(ValueError, match="reference"):
        get("strict")("\\boxed{42}", reference, {})


def test_strict_on_a_megabyte_is_quick():
    t = time.time()
    assert get("strict")("x" * 1_000_000 + " the answer is 42", "42", {}).reward == 1.0
    assert get("strict")("\\boxed{1}" * 100_000, "1", {}).reward == 1.0
    assert get("strict")("{" * 1_000_000, "1", {}).reward == 0.0
    assert time.time() - t < 5


ECHO = "Q: What is 2+3?\nA: We add the two numbers. The answer is \\boxed{5}."


@pytest.mark.parametrize("completion, reward, why", [
    (ECHO, 0.0, "only the prompt's worked example is repeated, though 5 is the reference"),
    (ECHO + "\nSo \\boxed{5}", 1.0, "the echo is not a second (hedged) answer"),
    ("1 + 4 = 5. The answer is \\boxed{5}.", 1.0, "the same closing phrase after new work is not an echo"),
])
def test_answers_copied_from_the_prompt_do_not_count(completion, reward, why):
    meta = {"prompt": ECHO + "\n\nWhat is 1+4?"}
    assert get("strict")(completion, "5", meta).reward == reward, why
    assert get("strict")(ECHO, "5", meta).info == {"reason": "answer_in_prompt_echo", "echoed": 2}


def test_strict_is_registered():
    assert "strict" in REGISTRY
