"""The reasoning_gym verifier: the task's own score_answer on the final answer, checked by hand
on two tasks; where the answer is found; hedges and prompt echoes; per-task step metrics, also
through the worker pool; per-task held-out accuracy."""
import pytest

pytest.importorskip("reasoning_gym")

from rlvr.eval.evaluate import accuracy_by_group  # noqa: E402
from rlvr.types import Sample  # noqa: E402
from rlvr.verifiers import REGISTRY, STEP_METRICS, Verdict  # noqa: E402
from rlvr.verifiers.reasoning_gym import ReasoningGymVerifier, task_metrics  # noqa: E402
from rlvr.verifiers.reward import RewardFunction  # noqa: E402

# entries as reasoning-gym writes them (checked against the generator in test_real_entries_score...)
CHAIN = {"task": "chain_sum", "options": {},
         "entry": {"question": "State the final answer to the following arithmetic problem: 14 + 9 - 5 =",
                   "answer": "18", "metadata": {"source_dataset": "chain_sum", "expression": "14 + 9 - 5"}}}
LEGS = {"task": "leg_counting", "options": {},
        "entry": {"question": "How many legs are there in total if you have 2 dogs, 3 chickens?",
                  "answer": "14", "metadata": {"source_dataset": "leg_counting", "animals": {"dog": 2, "chicken": 3}}}}


def _score(completion, reference, **options):
    return ReasoningGymVerifier(**options)(completion, reference, {})


@pytest.mark.parametrize("completion, reward", [
    ("14 + 9 = 23, 23 - 5 = 18. <answer>18</answer>", 1.0),
    ("<answer> 18 </answer>", 1.0),            # surrounding spaces go, as reasoning-gym's extract_answer does
    ("<answer>+018.0</answer>", 1.0),          # chain_sum's scorer compares decimals
    ("<answer>19</answer>", 0.0),
    ("<answer>18 apples</answer>", 2 / 9),    # partial credit: the answer "18" inside 9 characters
    ("the sum is \\boxed{18}", 1.0),           # no tag: the last box
    ("the sum is 18", 0.0),                    # no final-answer marker: nothing to score
])
def test_chain_sum_answers_scored_by_the_task(completion, reward):
    assert _score(completion, CHAIN).reward == pytest.approx(reward)


@pytest.mark.parametrize("completion, reward", [
    ("2 dogs have 8 legs, 3 chickens have 6. <answer>14</answer>", 1.0),   # 2·4 + 3·2
    ("<answer>10</answer>", 0.0),                                          # counting every animal as 2 legs
    ("<answer>14 legs</answer>", 2 / 7),
])
def test_leg_counting_answers_scored_by_the_task(completion, reward):
    v = _score(completion, LEGS)
    assert v.reward == pytest.approx(reward)
    assert v.info["task"] == "leg_counting" and v.info["correct"] == (reward == 1.0)


def test_where_the_answer_is_found():
    text = "\\boxed{18} then <answer>19</answer>"
    assert _score(text, CHAIN).reward == 0.0                     # either: the answer tag wins over the box
    assert _score(text, CHAIN, extract="boxed").reward == 1.0
    assert _score("\\boxed{18}", CHAIN, extract="answer_tag").info["reason"] == "no_answer"
    assert _score("so 18 it is", CHAIN, answer_pattern=r"(\d+)").reward == 1.0


def test_hedges_and_echoes_earn_nothing():
    hedge = _score("<answer>18</answer> or <answer>19</answer>", CHAIN)
    assert hedge.reward == 0.0 and hedge.info["reason"] == "several_answers"
    assert _score("<answer>18</answer> so again <answer>18</answer>", CHAIN).reward == 1.0  # the same answer twice
    assert _score("<answer>18</answer> or <answer>19</answer>", CHAIN, hacking_guard=False).reward == 0.0  # last
    example = "Example: what is 9 + 9? 9 + 9 = 18. <answer>18</answer>"
    v = ReasoningGymVerifier()(example, CHAIN, {"context": example + "\n\nState the final answer..."})
    assert v.reward == 0.0 and v.info["reason"] == "no_answer"   # the worked example's answer, copied


def test_a_reference_that_is_not_an_rg_entry_is_an_error():
    with pytest.raises(ValueError, match="scores samples of an 'rg:' data source"):
        _score("<answer>5</answer>", "5")


def test_real_entries_score_their_own_answers():
    import reasoning_gym

    for task in ("chain_sum", "leg_counting"):
        entry = reasoning_gym.create_dataset(task, seed=5, size=1)[0]
        ref = {"task": task, "options": {}, "entry": entry}
        assert _score(f"<answer>{entry['answer']}</answer>", ref).reward == 1.0
        assert _score(f"<answer>{int(entry['answer']) + 1}</answer>", ref).reward == 0.0


def test_per_task_step_metrics():
    verdicts = [Verdict(1.0, {"task": "chain_sum"}), Verdict(0.0, {"task": "chain_sum"}),
                Verdict(0.25, {"task": "leg_counting"}), Verdict(0.0, {"error": "timeout"})]
    assert task_metrics(verdicts) == {"reward/chain_sum": 0.5, "reward/leg_counting": 0.25}
    assert REGISTRY["reasoning_gym"] is ReasoningGymVerifier and STEP_METRICS["reasoning_gym"] is task_metrics


def test_per_task_metrics_through_the_worker_pool():
    fn = RewardFunction([("reasoning_gym", 1.0, {})], workers=1, timeout_s=30.0)
    try:
        s = fn(["<answer>18</answer>", "<answer>0</answer>", "<answer>14</answer>"], [CHAIN, CHAIN, LEGS],
               [{}, {}, {}], groups=[2, 1])
    finally:
        fn.close()
    assert s.rewards == [1.0, 0.0, 1.0] and s.correct == [True, False, True]
    assert s.metrics["reward/chain_sum"] == 0.5 and s.metrics["reward/leg_counting"] == 1.0
    assert s.metrics["reward/errors"] == 0


def test_held_out_accuracy_per_task():
    samples = [Sample("a", "1", {"eval_group": "chain_sum"}), Sample("b", "1", {"eval_group": "chain_sum"}),
               Sample("c", "1", {"eval_group": "leg_counting"}), Sample("d", "1", {"task": "arithmetic"})]
    assert accuracy_by_group(samples, [True, False, True, True]) == {
        "chain_sum": {"accuracy": 0.5, "problems": 2}, "leg_counting": {"accuracy": 1.0, "problems": 1}}
