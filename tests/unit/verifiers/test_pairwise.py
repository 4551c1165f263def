"""BRPO's pairwise verifier (Writing-Zero, arXiv 2506.00103) and the `raw` advantage.

Rewards are derived by hand with a fake judge whose preferences are known; the tiny model
checks that hostile groups get verdicts, not crashes."""
import re

import pytest
import torch

from rlvr.algos.advantages import ADVANTAGES, raw
from rlvr.verifiers import REGISTRY, STEP_METRICS, Verdict
from rlvr.verifiers.judge_model import JudgeModel
from rlvr.verifiers.pairwise import PairwiseVerifier, brpo_rewards, pairwise_metrics, reference_index

QUALITY = {"poor": 0, "fair": 1, "good": 2, "best": 3}
GROUP = ["poor", "fair", "good", "best"]


class FakePairJudge:
    """P(A) from `prefer(a, b)`; records the (A, B) pairs it was asked about."""

    def __init__(self, prefer):
        self.prefer = prefer
        self.pairs: list[tuple[str, str]] = []

    def choice_probs(self, prompts, choices):
        assert tuple(choices) == ("A", "B")
        out = []
        for p in prompts:
            a, b = re.search(r"Response A:\n(.*?)\n\nResponse B:\n(.*?)\n\nWhich", p, re.S).groups()
            self.pairs.append((a, b))
            p_a = self.prefer(a, b)
            out.append([p_a, 1 - p_a])
        return out


def by_quality(a, b):
    return 0.9 if QUALITY[a] > QUALITY[b] else 0.1


def always_first(a, b):
    return 0.8  # a judge that only looks at the position


def pairwise(prefer, **options):
    v = PairwiseVerifier(model="tiny", **options)
    v.backend = FakePairJudge(prefer)
    return v


def score(v, group):
    return v.batch(group, [None] * len(group), [{"prompt": "Write a sentence."}] * len(group))


# (wins per challenger as (as A, as B), G, tie_reward, expected rewards, dropped)
BRPO_CASES = [
    # raw +1, −1, −1 (one order only: tie_reward −1); |−1| / 4 = 0.25 ≤ 0.6
    ({1: (True, True), 2: (False, False), 3: (True, False)}, 4, -1.0, {1: 1.0, 2: -1.0, 3: -1.0}, False),
    # the same with tie_reward 0: the split verdict counts as a draw
    ({1: (True, True), 2: (False, False), 3: (True, False)}, 4, 0.0, {1: 1.0, 2: -1.0, 3: 0.0}, False),
    # all three win: |3| / 4 = 0.75 > 0.6 → no discrimination, every reward 0
    ({1: (True, True), 2: (True, True), 3: (True, True)}, 4, -1.0, {1: 0.0, 2: 0.0, 3: 0.0}, True),
    # 3 wins, 1 loss in a group of 5: |2| / 5 = 0.4 → kept
    ({0: (True, True), 1: (True, True), 2: (True, True), 4: (False, True)}, 5, -1.0,
     {0: 1.0, 1: 1.0, 2: 1.0, 4: -1.0}, False),
    # 4 wins in a group of 5: |4| / 5 = 0.8 > 0.6 → dropped; exactly 0.6 (3 of 5, below) is kept
    ({0: (True, True), 1: (True, True), 2: (True, True), 3: (True, True)}, 5, -1.0,
     {0: 0.0, 1: 0.0, 2: 0.0, 3: 0.0}, True),
    ({0: (True, True), 1: (True, True), 2: (True, True)}, 5, -1.0, {0: 1.0, 1: 1.0, 2: 1.0}, False),
]


@pytest.mark.parametrize("wins, G, tie_reward, expected, dropped", BRPO_CASES)
def test_brpo_rule_by_hand(wins, G, tie_reward, expected, dropped):
    rewards, _, was_dropped = brpo_rewards(wins, G, tie_reward=tie_reward, max_imbalance=0.6)
    assert rewards == expected and was_dropped == dropped


def test_reference_is_a_deterministic_hash_of_the_group():
    assert reference_index(GROUP) == reference_index(list(GROUP))  # same texts, same reference
    assert reference_index(GROUP, seed=14) == 1 and reference_index(GROUP, seed=0) == 3  # recorded values
    assert {reference_index(GROUP, seed=s) for s in range(20)} == {0, 1, 2, 3}  # every member can be drawn
    assert reference_index(["ab", "c"]) == reference_index(["ab", "c"])
    assert reference_index(["\ud800", ""]) in (0, 1)  # lone surrogates hash too


def test_group_rewards_against_the_drawn_reference():
    # seed 14 draws "fair" (index 1): "poor" loses in both orders (−1), "good" and "best" win
    # in both (+1), the reference gets 0; Σ = 1, |1| / 4 = 0.25 ≤ 0.6 → kept
    v = pairwise(by_quality, seed=14)
    verdicts = score(v, GROUP)
    assert [x.reward for x in verdicts] == [-1.0, 0.0, 1.0, 1.0]
    assert verdicts[1].info["role"] == "reference" and all(x.info["reference_index"] == 1 for x in verdicts)
    # every challenger was compared with the reference in both orders
    assert sorted(v.backend.pairs) == sorted([(o, "fair") for o in ("poor", "good", "best")]
                                             + [("fair", o) for o in ("poor", "good", "best")])
    assert not any(x.info.get("orders_disagree") for x in verdicts)


def test_a_group_without_discrimination_gets_zero_rewards():
    # seed 0 draws "best" (index 3): everyone else loses, Σ = −3, |−3| / 4 = 0.75 > 0.6
    verdicts = score(pairwise(by_quality, seed=0), GROUP)
    assert [x.reward for x in verdicts] == [0.0, 0.0, 0.0, 0.0]
    assert all(x.info["reason"] == "imbalanced" and x.info["group_sum"] == -3.0 for x in verdicts)
    assert [x.info.get("raw_reward") for x in verdicts] == [-1.0, -1.0, -1.0, None]


def test_position_bias_cancels_and_is_reported():
    # a judge that always answers "A": each challenger wins as A and loses as B — a split
    # verdict: tie_reward 0 gives 0 to all (Σ = 0, kept); BRPO's −1 gives Σ = −3 → dropped
    for tie_reward, expected_reason in ((0.0, None), (-1.0, "imbalanced")):
        verdicts = score(pairwise(always_first, seed=14, tie_reward=tie_reward), GROUP)
        assert [x.reward for x in verdicts] == [0.0] * 4
        assert verdicts[0].info.get("reason") == expected_reason
        m = pairwise_metrics(verdicts)
        assert m["pairwise/position_disagreement"] == 1.0 and m["pairwise/first_position_rate"] == 1.0
        assert m["pairwise/win_frac"] == 0.0


def test_copies_of_the_reference_get_zero_without_a_judge_call():
    group = ["fair", "fair", "good", "fair"]  # seed 0 draws one of the "fair"s or "good"
    v = pairwise(by_quality, seed=0)
    verdicts = score(v, group)
    ref = verdicts[0].info["reference_index"]
    for i, x in enumerate(verdicts):
        if i != ref and group[i] == group[ref]:
            assert x.reward == 0.0 and x.info["reason"] == "same_as_reference"
    assert len(v.backend.pairs) == 2 * sum(t != group[ref] for t in group)


def test_the_same_group_scored_twice_gets_the_same_rewards():
    a, b = score(pairwise(by_quality, seed=14), GROUP), score(pairwise(by_quality, seed=14), GROUP)
    assert a == b


def test_a_group_of_one_is_its_own_reference():
    v = pairwise(by_quality)
    assert v("good", None, {}).reward == 0.0 and v.backend.pairs == []
    assert v.batch([], [], []) == []


def test_step_metrics_by_hand():
    verdicts = [
        Verdict(0.0, {"role": "reference", "reference_index": 0}),
        Verdict(1.0, {"role": "challenger", "p_win": [0.9, 0.7], "orders_disagree": False, "raw_reward": 1.0}),
        Verdict(-1.0, {"role": "challenger", "p_win": [0.6, 0.2], "orders_disagree": True, "raw_reward": -1.0}),
        Verdict(0.0, {"role": "duplicate", "reason": "same_as_reference"}),
        Verdict(0.0, {"error": "timeout"}),
    ]
    m = pairwise_metrics(verdicts)
    # A chosen: 0.9 > 0.5 (yes), 0.7 ≤ 0.5 (no), 0.6 > 0.5 (yes), 0.2 ≤ 0.5 (yes) → 3 of 4
    assert m == {"pairwise/dropped_frac": 0.0, "pairwise/position_disagreement": 0.5,
                 "pairwise/first_position_rate": 0.75, "pairwise/win_frac": 0.5}


@pytest.mark.parametrize("options, message", [
    ({"model": "policy"}, "model.path"),
    ({"model": "tiny", "max_imbalance": 1.5}, "max_imbalance"),
    ({"model": "tiny", "tie_reward": 2.0}, "tie_reward"),
])
def test_bad_options_are_refused(options, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        PairwiseVerifier(**options)


def test_registered_as_a_group_verifier():
    assert REGISTRY["pairwise"] is PairwiseVerifier and STEP_METRICS["pairwise"] is pairwise_metrics
    assert PairwiseVerifier.needs_group is True


# ---------------------------------------------------------------------------- raw advantage
def test_raw_advantage_is_the_reward():
    # BRPO: Â = R, no baseline, no std: a BRPO group (−1, 0, +1, +1) keeps its values, a
    # dropped group stays 0, and the result is a new tensor
    rewards = torch.tensor([[-1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    adv = ADVANTAGES["raw"](rewards)
    assert torch.equal(adv, torch.tensor([[-1.0, 0.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]]))
    assert adv.data_ptr() != rewards.data_ptr() and raw is ADVANTAGES["raw"]


# ---------------------------------------------------------------------------- tiny model
def test_hostile_group_gets_verdicts_from_the_tiny_judge():
    v = PairwiseVerifier(model="tiny", max_chars=300)
    v.backend = JudgeModel("tiny")
    group = ["", "x" * 1_000_000, "\ud800", "{" * 50_000, "\\boxed{", "fine answer"]
    verdicts = v.batch(group, [None] * 6, [{"prompt": "Say something. \ud800"}] * 6)
    assert len(verdicts) == 6 and all(x.reward in (-1.0, 0.0, 1.0) for x in verdicts)
    assert sum(x.info["role"] == "reference" for x in verdicts) == 1
    assert all(0.0 <= p <= 1.0 for x in verdicts for p in x.info.get("p_win", []))
