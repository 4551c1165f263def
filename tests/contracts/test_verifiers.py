"""Every registered verifier against hostile completions, through the worker pool: each
input gets a finite reward in the verifier's range, nothing crashes, nothing hangs past the
pool's limit, and the order of rewards matches the order of completions.

A new verifier must be added to SETUPS (its options and a reference of the right kind):
the test fails for a registered name it does not know.
"""
import math
import time

import pytest

from rlvr.verifiers import REGISTRY
from rlvr.verifiers.reward import RewardFunction, verifier_meta

CONTEXT = "Example: what is 2+3? The answer is \\boxed{5}.\n\nWhat is 1+4?"
ECHO = "Example: what is 2+3? The answer is \\boxed{5}."
HOSTILE = [
    "",  # empty output
    "7 " * 500_000,  # 1 MB
    "\\boxed{\ud800} \udcff \x00 \ufffe",  # lone surrogates, NUL, a non-character
    "\\boxed{" + "{" * 100_000 + "5" + "}" * 100_000 + "}",  # deeply nested braces
    "the result is \\boxed{5",  # unclosed box
    "\\boxed{9^9^9^9^9}",  # a tower of powers
    ECHO,  # the answer only inside a copy of the prompt
    "\\boxed{5} or maybe \\boxed{6}",  # several different answers
    "{" * 200_000,  # braces without a box
]
MATH_REF = "5"
RG_REF = {"task": "chain_sum", "options": {},  # a reasoning-gym entry whose answer is 5
          "entry": {"question": "State the final answer to the following arithmetic problem: 2 + 3 =",
                    "answer": "5", "metadata": {"source_dataset": "chain_sum", "expression": "2 + 3"}}}
# name → (options, reference, (lowest, highest) reward)
SETUPS = {
    "math": ({}, MATH_REF, (0, 1)),
    "strict": ({}, MATH_REF, (0, 1)),
    "format": ({}, None, (0, 1)),
    "random": ({}, None, (0, 1)),
    "majority": ({}, MATH_REF, (0, 1)),
    "partial": ({}, ["5", "6"], (0, 1)),
    "self_verify": ({}, "1", (0, 1)),
    "ifeval": ({}, {"instruction_id_list": ["punctuation:no_comma", "detectable_format:json_format"],
                    "kwargs": [{}, {}]}, (0, 1)),
    "code": ({"timeout_s": 2.0}, {"asserts": "assert f(2) == 4"}, (0, 1)),
    "judge": ({"model": "tiny"}, MATH_REF, (0, 1)),
    "pairwise": ({"model": "tiny"}, None, (-1, 1)),
    "reasoning_gym": ({}, RG_REF, (0, 1)),
}


def test_every_registered_verifier_has_a_setup():
    assert set(REGISTRY) <= set(SETUPS), f"add {sorted(set(REGISTRY) - set(SETUPS))} to SETUPS"


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_hostile_completions_cost_nothing_but_their_reward(name):
    options, reference, (low, high) = SETUPS[name]
    fn = RewardFunction([(name, 1.0, options)], workers=2, timeout_s=20.0)
    metas = [verifier_meta("What is 1+4?", {}, CONTEXT) for _ in HOSTILE]
    try:
        t = time.time()
        s = fn(HOSTILE, [reference] * len(HOSTILE), metas, groups=[len(HOSTILE)])
        elapsed = time.time() - t
    finally:
        fn.close()
    verdicts = [d[name] for d in s.verdicts]
    assert len(verdicts) == len(HOSTILE)
    for text, v in zip(HOSTILE, verdicts):
        assert math.isfinite(v.reward) and low <= v.reward <= high, (name, text[:40], v)
        assert "error" not in v.info or v.info["error"] == "timeout", (name, text[:40], v.info)
    assert elapsed < 120
    if name in ("math", "strict", "reasoning_gym"):
        # none of them states 5 as its own single final answer: the echo is the prompt's, the
        # nested box is not a number, and "5 or 6" is a hedge
        assert [v.reward for v in verdicts] == [0.0] * len(HOSTILE)


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_verifier_declares_how_it_is_called_and_is_documented(name):
    """The pool calls `batch` for a verifier that declares `needs_group` (a prompt's whole
    group) or a `batch_size` (chunks of completions), `__call__` otherwise; every verifier has
    a one-line description for `rlvr verifiers` and a docs page."""
    from pathlib import Path

    from rlvr.verifiers import DESCRIPTIONS
    from rlvr.verifiers.reward import calling_mode

    cls = REGISTRY[name]
    needs_group, batch_size = calling_mode(name)
    assert callable(getattr(cls, "batch" if needs_group or batch_size else "__call__", None)), name
    assert DESCRIPTIONS.get(name), name
    page = {"random": "spurious", "format": "math"}.get(name, name)  # format: a section of math.md
    assert (Path(__file__).resolve().parents[2] / "docs" / "verifiers" / f"{page}.md").is_file(), name


# Reward functions of other frameworks (`trl:`, `verl:`) are not registry entries but name
# prefixes (rlvr.verifiers.FRAMEWORKS): each is run here with a function written as that
# framework's docs show, on the same hostile completions, through the pool.
FRAMEWORK_SETUPS = {
    "trl": ("trl:tests/fixtures/rewards/trl_rewards.py:boxed_reward", {"answer_field": "ground_truth"}, MATH_REF),
    "verl": ("verl:tests/fixtures/rewards/verl_gsm8k.py:compute_score", {}, MATH_REF),
}


def test_every_framework_prefix_has_a_setup():
    from rlvr.verifiers import FRAMEWORKS

    assert set(FRAMEWORKS) == set(FRAMEWORK_SETUPS), f"add {sorted(set(FRAMEWORKS) - set(FRAMEWORK_SETUPS))}"


@pytest.mark.parametrize("prefix", sorted(FRAMEWORK_SETUPS))
def test_a_foreign_reward_function_on_hostile_completions(prefix, monkeypatch):
    from pathlib import Path

    monkeypatch.chdir(Path(__file__).resolve().parents[2])  # the fixture paths are relative to the repo
    name, options, reference = FRAMEWORK_SETUPS[prefix]
    fn = RewardFunction([(name, 1.0, options)], workers=2, timeout_s=20.0)
    metas = [verifier_meta("What is 1+4?", {}, CONTEXT) for _ in HOSTILE]
    try:
        s = fn(HOSTILE, [reference] * len(HOSTILE), metas, groups=[3, 3, 3],
               completion_ids=[[0] * min(len(t), 10) for t in HOSTILE])
    finally:
        fn.close()
    verdicts = [d[name] for d in s.verdicts]
    assert len(verdicts) == len(HOSTILE)
    for text, v in zip(HOSTILE, verdicts):
        assert math.isfinite(v.reward) and 0 <= v.reward <= 1, (name, text[:40], v)
        assert "error" not in v.info or v.info["error"] == "timeout", (name, text[:40], v.info)


@pytest.mark.parametrize("prefix", sorted(FRAMEWORK_SETUPS))
def test_every_framework_prefix_declares_how_it_is_called_and_is_documented(prefix):
    from pathlib import Path

    from rlvr.verifiers import FRAMEWORKS
    from rlvr.verifiers.foreign import DESCRIPTIONS

    cls = FRAMEWORKS[prefix]
    assert callable(getattr(cls, "batch" if getattr(cls, "needs_group", False) else "__call__", None)), prefix
    assert DESCRIPTIONS.get(prefix), prefix
    page = Path(__file__).resolve().parents[2] / "docs" / "verifiers" / "frameworks.md"
    assert page.is_file() and f"`{prefix}:" in page.read_text(encoding="utf-8")
