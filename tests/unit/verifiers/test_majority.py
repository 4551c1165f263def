"""The `majority` verifier (TTRL/SRT self-reward), its step metrics, frozen label files and
the pseudo-label helpers of `rlvr label`."""
import json
import time

import pytest

from rlvr.config import ConfigError, load_config
from rlvr.eval.pseudo_labels import distinct_prompts, summarise, voter_options, write_label_file
from rlvr.types import Sample
from rlvr.verifiers import REGISTRY, STEP_METRICS, Verdict, get
from rlvr.verifiers.majority import MajorityVerifier, majority_metrics, read_label_file
from rlvr.verifiers.reward import RewardFunction

NO_ANSWER = "I am not sure."


def group(answers):
    """Completions boxing each answer; None: a completion without any answer."""
    return [NO_ANSWER if a is None else f"so the result is \\boxed{{{a}}}." for a in answers]


def run(answers, reference=None, *, prompt="q", **options):
    v = MajorityVerifier(**options)
    n = len(answers)
    return v.batch(group(answers), [reference] * n, [{"prompt": prompt}] * n)


GROUP_TABLE = [
    # (answers, soft, expected label, expected rewards, expected majority ratio, why)
    # clusters {4, 4, 4, 4.0} (indices 0,1,4,5), {5, 5}, {6}; None votes for nothing but stays in the
    # denominator: ratio = 4/8, not 4/7 (SRT divides by the parsable answers; see majority.py)
    (["4", "4", "5", None, "4", "4.0", "6", "5"], False, "4", [1, 1, 0, 0, 1, 1, 0, 0], 4 / 8,
     "worked example; 4.0 ≡ 4 through math-verify"),
    # soft: each completion gets its own cluster's share of the group of 8
    (["4", "4", "5", None, "4", "4.0", "6", "5"], True, "4", [4 / 8, 4 / 8, 2 / 8, 0, 4 / 8, 4 / 8, 1 / 8, 2 / 8],
     4 / 8, "SRT's soft reward: 4s get 4/8, 5s 2/8, the 6 1/8, no answer 0"),
    # two clusters of 2: the tie goes to the cluster whose first answer came first (the 5 at index 0)
    (["5", "4", "4", "5"], False, "5", [1, 0, 0, 1], 2 / 4, "tie: earliest cluster wins"),
    (["1/2", "0.5", "\\frac{1}{2}", "2"], False, "1/2", [1, 1, 1, 0], 3 / 4, "equivalent forms cluster"),
    # three completions without an answer and one "3": the empty answers cannot be the label
    ([None, None, None, "3"], False, "3", [0, 0, 0, 1], 1 / 4, "no-answer never forms the majority"),
    ([None, None], False, None, [0, 0], 0.0, "nobody answered: no label"),
    # "\\" does not parse: like no answer, it votes for nothing although it is the most frequent text
    (["\\", "\\", "\\", "7"], False, "7", [0, 0, 0, 1], 1 / 4, "unparsable answers never form the majority"),
    (["x + 1", "1 + x", "x+1", "x"], False, "x + 1", [1, 1, 1, 0], 3 / 4, "symbolic equivalence, spaces"),
]


@pytest.mark.parametrize("answers, soft, label, rewards, ratio, why", GROUP_TABLE)
def test_majority_group_table(answers, soft, label, rewards, ratio, why):
    verdicts = run(answers, soft=soft)
    assert [v.reward for v in verdicts] == pytest.approx(rewards), why
    assert all(v.info["label"] == label for v in verdicts), why
    assert all(v.info["majority_ratio"] == pytest.approx(ratio) for v in verdicts), why
    assert all(v.info["label_source"] == "vote" for v in verdicts)


def test_hedging_completion_casts_no_vote():
    # the math verifier's hacking guard: two different boxes are no answer, so the group's
    # only vote is the single 9 (1 of 3)
    comps = ["\\boxed{8} or maybe \\boxed{9}", "\\boxed{8} hmm \\boxed{7}", "\\boxed{9}"]
    verdicts = MajorityVerifier().batch(comps, [None] * 3, [{}] * 3)
    assert [v.reward for v in verdicts] == [0, 0, 1]
    assert verdicts[0].info["reason"] == "several_answers" and verdicts[2].info["label"] == "9"


def test_answer_pattern_is_honoured_like_math():
    # the tiny model never boxes; with a pattern the last number is the answer: 7, 7, 8 → label 7
    verdicts = MajorityVerifier(answer_pattern=r"(\d+)").batch(["ab 3 7", "7x", "8"], [None] * 3, [{}] * 3)
    assert [v.reward for v in verdicts] == [1, 1, 0] and verdicts[0].info["label"] == "7"


@pytest.mark.parametrize("min_agreement, rewards, reason", [
    (0.6, [0, 0, 0, 0], "low_agreement"),   # majority share 2/4 = 0.5 < 0.6: no pseudo-label
    (0.5, [1, 1, 0, 0], None),              # 0.5 ≥ 0.5: labelled (the threshold is inclusive)
    (0.0, [1, 1, 0, 0], None),
])
def test_min_agreement(min_agreement, rewards, reason):
    verdicts = run(["4", "4", "5", "6"], min_agreement=min_agreement)
    assert [v.reward for v in verdicts] == rewards
    assert all(v.info.get("reason") == reason for v in verdicts[:2])
    if reason:
        assert all(v.info["label"] is None for v in verdicts)


def test_min_agreement_applies_to_the_soft_reward_too():
    assert [v.reward for v in run(["4", "4", "5", "6"], soft=True, min_agreement=0.75)] == [0, 0, 0, 0]


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_min_agreement_must_be_a_ratio(bad):
    with pytest.raises(ValueError, match="min_agreement"):
        MajorityVerifier(min_agreement=bad)


def test_the_reference_never_changes_the_reward():
    answers = ["4", "4", "5", None, "4", "4.0", "6", "5"]
    rewards = {ref: [v.reward for v in run(answers, ref)] for ref in (None, "", "4", "5", "\\frac{12}{3}")}
    assert len({tuple(r) for r in rewards.values()}) == 1


def test_truth_diagnostics_when_the_reference_is_known():
    # label 4 (2 of 4); truth 5: the label is wrong. True rewards [0, 0, 1, 0], pseudo [1, 1, 0, 0]:
    # they agree only on the completion without an answer (both 0)
    verdicts = run(["4", "4", "5", None], "5")
    assert all(v.info["label_correct"] is False for v in verdicts)
    assert [v.info["true_reward"] for v in verdicts] == [0, 0, 1, 0]
    assert [v.info["reward_correct"] for v in verdicts] == [False, False, False, True]
    right = run(["4", "4", "5", None], "4.00")
    assert all(v.info["label_correct"] is True for v in right)
    assert [v.info["reward_correct"] for v in right] == [True] * 4
    for unknown in (None, "", "   "):
        assert not any("label_correct" in v.info or "reward_correct" in v.info for v in run(["4"], unknown))


def test_soft_reward_accuracy_compares_the_hard_pseudo_reward():
    # soft rewards are fractions; reward_correct asks whether "agrees with the label" (1/0) is the truth
    verdicts = run(["4", "4", "5"], "4", soft=True)
    assert [v.reward for v in verdicts] == pytest.approx([2 / 3, 2 / 3, 1 / 3])
    assert [v.info["reward_correct"] for v in verdicts] == [True, True, True]


def test_step_metrics_by_hand():
    # group A (truth 4): label 4 correct; pseudo [1,1,0,0] vs true [1,1,0,0]: 4 of 4 agree; ratio 2/4
    # group B (truth 5): label 4 wrong; pseudo [1,1,0,0] vs true [0,0,1,0]: 1 of 4 agree; ratio 2/4
    # group C (no truth): nobody answers, no label; ratio 0
    a = run(["4", "4", "5", "6"], "4")
    b = run(["4", "4", "5", None], "5")
    c = run([None, None, None, None])
    errored = [Verdict(0.0, {"error": "timeout"})]
    m = majority_metrics(a + b + c + errored)
    # label_accuracy over completions with a label and a truth: (4·1 + 4·0) / 8
    assert m["majority/label_accuracy"] == pytest.approx(0.5)
    # reward_accuracy over completions with a truth: (4 + 1) / 8
    assert m["majority/reward_accuracy"] == pytest.approx(5 / 8)
    # majority_ratio over all 12 answered-or-not completions: (4·0.5 + 4·0.5 + 4·0) / 12
    assert m["majority/majority_ratio"] == pytest.approx(1 / 3)
    assert m["majority/labelled_frac"] == pytest.approx(8 / 12)
    assert majority_metrics(errored) == {} and majority_metrics([]) == {}
    assert STEP_METRICS["majority"] is majority_metrics


# --------------------------------------------------------------------------- frozen labels
def _label_file(tmp_path, rows, name="labels.jsonl"):
    path = tmp_path / name
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return str(path)


def test_frozen_label_replaces_the_vote(tmp_path):
    path = _label_file(tmp_path, [{"prompt": "q1", "label": "5", "majority_ratio": 0.9},
                                  {"prompt": "q3", "label": None, "majority_ratio": 0.0}])
    # q1 is in the file: label 5, whatever the group votes (4, 2 of 4); the vote's ratio is still logged
    verdicts = run(["4", "4", "5.0", None], prompt="q1", labels=path)
    assert [v.reward for v in verdicts] == [0, 0, 1, 0]
    assert all(v.info["label"] == "5" and v.info["label_source"] == "frozen" for v in verdicts)
    assert verdicts[0].info["majority_ratio"] == 0.5
    # q2 is absent and q3 has no label: the group's own vote, saying so
    for prompt in ("q2", "q3"):
        fallback = run(["4", "4", "5", None], prompt=prompt, labels=path)
        assert [v.reward for v in fallback] == [1, 1, 0, 0]
        assert all(v.info["label_source"] == "vote_fallback" for v in fallback)


def test_frozen_label_with_min_agreement_and_soft(tmp_path):
    path = _label_file(tmp_path, [{"prompt": "q1", "label": "5", "majority_ratio": 0.3},
                                  {"prompt": "q2", "label": "4"}])  # no ratio: a hand-given label, 1.0
    low = run(["5", "5"], prompt="q1", labels=path, min_agreement=0.5)
    assert [v.reward for v in low] == [0, 0] and low[0].info["reason"] == "low_agreement"
    assert [v.reward for v in run(["4", "3"], prompt="q2", labels=path, min_agreement=0.5)] == [1, 0]
    # a frozen label rewards agreement with it 1/0, also with `soft`
    assert [v.reward for v in run(["4", "4", "3"], prompt="q2", labels=path, soft=True)] == [1, 1, 0]


@pytest.mark.parametrize("rows, message", [
    (["{not json"], "labels.jsonl:1: invalid JSON"),
    ([{"label": "4"}], "labels.jsonl:1: a row needs a string 'prompt'"),
    ([{"prompt": "a", "label": "4"}, {"prompt": "b", "label": ""}], "labels.jsonl:2: 'label'"),
    ([{"prompt": "a", "label": "4", "majority_ratio": 2}], "majority_ratio"),
])
def test_bad_label_files_name_the_line(tmp_path, rows, message):
    path = _label_file(tmp_path, rows)
    with pytest.raises(ValueError, match=message):
        MajorityVerifier(labels=path)


def test_missing_label_file(tmp_path):
    with pytest.raises(ValueError, match="not found"):
        MajorityVerifier(labels=str(tmp_path / "nope.jsonl"))


def test_label_file_round_trip(tmp_path):
    rows = [{"prompt": "What is 1 + 1?", "label": "2", "majority_ratio": 0.75, "samples": 8, "label_correct": True},
            {"prompt": "Ünïcode?", "label": None, "majority_ratio": 0.0, "samples": 8},
            {"prompt": "num", "label": 3}]
    write_label_file(rows, tmp_path / "sub" / "l.jsonl")
    got = read_label_file(tmp_path / "sub" / "l.jsonl")
    assert set(got) == {"What is 1 + 1?", "num"}  # the unlabelled row is skipped
    assert got["What is 1 + 1?"].label == "2" and got["What is 1 + 1?"].majority_ratio == 0.75
    assert got["num"].label == "3" and got["num"].majority_ratio == 1.0


def test_label_summary_and_helpers():
    rows = [{"label": "2", "majority_ratio": 0.5, "label_correct": True},
            {"label": "3", "majority_ratio": 1.0, "label_correct": False},
            {"label": "4", "majority_ratio": 0.25},  # no reference
            {"label": None, "majority_ratio": 0.0}]
    s = summarise(rows)
    # labelled 3 of 4; mean ratio (0.5 + 1 + 0.25 + 0) / 4; accuracy 1 of the 2 judged labels
    assert (s.prompts, s.labelled, s.label_accuracy) == (4, 3, 0.5)
    assert s.mean_majority_ratio == pytest.approx(1.75 / 4)
    assert summarise([{"label": "1", "majority_ratio": 1.0}]).label_accuracy is None
    samples = [Sample("a", "1"), Sample("b", "2"), Sample("a", "1"),
               Sample([{"role": "system", "content": "s"}, {"role": "user", "content": "b"}], "2")]
    assert [s.prompt for s in distinct_prompts(samples)] == ["a", "b"]
    cfg = load_config(None, {"reward": {"verifiers": [
        {"name": "format"}, {"name": "majority", "options": {"answer_pattern": "(\\d+)", "soft": True}}]}})
    assert voter_options(cfg.reward.verifiers) == {"answer_pattern": "(\\d+)"}
    assert voter_options(load_config(None).reward.verifiers) == {}


# --------------------------------------------------------------------------- robustness, wiring
HOSTILE = ["", "x" * 1_000_000, "\\boxed{\ud800}", "\\boxed{4\ud8002}", "{" * 50_000, "\\boxed{" + "{" * 50_000,
           "\\boxed{9^9^9^9^9}", "\\boxed{" + "1" * 5000 + "}", "\\boxed{3"]


def test_hostile_completions_do_not_crash_or_vote():
    comps = HOSTILE + ["\\boxed{3}", "\\boxed{3}"]
    t = time.time()
    verdicts = MajorityVerifier().batch(comps, ["3"] * len(comps), [{"prompt": "q"}] * len(comps))
    assert time.time() - t < 20
    assert len(verdicts) == len(comps)
    # the two 3s are the majority (the unclosed "\boxed{3" is no answer); ratio 2 / 11
    assert [v.reward for v in verdicts] == [0.0] * len(HOSTILE) + [1.0, 1.0]
    assert verdicts[0].info["label"] == "3" and verdicts[0].info["majority_ratio"] == pytest.approx(2 / 11)
    json.dumps([v.info for v in verdicts])  # info stays loggable


def test_single_call_is_a_group_of_one():
    v = get("majority")
    assert v("\\boxed{12}", None, {}).reward == 1.0
    assert v("nothing", "12", {}).reward == 0.0


def test_registered_and_options_checked():
    assert REGISTRY["majority"].needs_group is True
    with pytest.raises(ConfigError, match="options"):
        load_config(None, {"reward": {"verifiers": [{"name": "majority", "options": {"sofft": True}}]}})


def test_groups_through_the_reward_function():
    """The pool calls `batch` once per prompt group: two groups, two different labels."""
    rf = RewardFunction([("majority", 1.0, {})], workers=1, timeout_s=5)
    try:
        comps = group(["4", "4", "5"]) + group(["7", "8", "8"])
        scored = rf(comps, ["4"] * 3 + ["9"] * 3, [{"prompt": "a"}] * 3 + [{"prompt": "b"}] * 3, groups=[3, 3])
    finally:
        rf.close()
    assert scored.rewards == [1, 1, 0, 0, 1, 1]
    assert [d["majority"].info["label"] for d in scored.verdicts] == ["4"] * 3 + ["8"] * 3
    # label accuracy: group a right, group b wrong → 3 of 6 completions
    assert scored.metrics["majority/label_accuracy"] == pytest.approx(0.5)
