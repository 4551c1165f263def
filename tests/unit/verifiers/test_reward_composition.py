"""Reward composition: batch and group calls through the pool, gates, spurious controls,
prompt-echo detection and reward presets."""
import time

import pytest

from rlvr.config import ConfigError, load_config
from rlvr.verifiers import get
from rlvr.verifiers.pool import BATCH_TASK, VerifierPool
from rlvr.verifiers.reward import RewardFunction, verifier_meta

GROUP = "tests.unit.verifiers.verifier_fixtures:GroupProbe"
CHUNK = "tests.unit.verifiers.verifier_fixtures:ChunkProbe"


def test_group_verifier_sees_each_prompt_group_whole_and_in_order():
    fn = RewardFunction([(GROUP, 1.0, {})], workers=2, timeout_s=5)
    try:
        texts = ["a0", "a1", "a2", "b0", "b1", "c0"]
        metas = [{"prompt": p} for p in "aaabbc"]
        s = fn(texts, [None] * 6, metas, groups=[3, 2, 1])
    finally:
        fn.close()
    # reward = position in its group / group size: a → 0, 1/3, 2/3; b → 0, 1/2; c → 0
    assert s.rewards == pytest.approx([0, 1 / 3, 2 / 3, 0, 1 / 2, 0])
    assert [v[GROUP].info["group"] for v in s.verdicts] == [texts[:3]] * 3 + [texts[3:5]] * 2 + [texts[5:]]
    assert [v[GROUP].info["prompt"] for v in s.verdicts] == list("aaabbc")
    # the verifier's own step metrics (a class attribute, as a plugin would ship them)
    assert s.metrics["group_probe/mean_group_size"] == pytest.approx((3 * 3 + 2 * 2 + 1) / 6)


def test_group_sizes_must_cover_the_completions():
    fn = RewardFunction([(GROUP, 1.0, {})], workers=1, timeout_s=5)
    try:
        with pytest.raises(ValueError, match="do not add up"):
            fn(["a", "b", "c"], [None] * 3, groups=[2])
    finally:
        fn.close()


def test_chunked_verifier_gets_consecutive_chunks_of_batch_size():
    fn = RewardFunction([(CHUNK, 1.0, {}), ("math", 1.0, {})], workers=2, timeout_s=5)
    try:
        s = fn([f"\\boxed{{{i}}}" for i in range(7)], [str(i) for i in range(7)])
    finally:
        fn.close()
    # batch_size 3 over 7 completions: chunks of 3, 3, 1 → chunk reward = its size; math adds 1 each
    assert s.rewards == [4, 4, 4, 4, 4, 4, 2]


def test_a_failing_batch_costs_only_its_own_completions():
    with VerifierPool([(CHUNK, {})], workers=1, timeout_s=0.5) as pool:
        t = time.time()
        out = pool.run([(BATCH_TASK, 0, ["x", "boom"], [None] * 2, [{}] * 2),
                        (BATCH_TASK, 0, ["x", "short"], [None] * 2, [{}] * 2),
                        (BATCH_TASK, 0, ["sleep", "x", "y"], [None] * 3, [{}] * 3),
                        (BATCH_TASK, 0, ["x", "y"], [None] * 2, [{}] * 2)])
        # the hanging chunk of 3 has 3 × 0.5 s, then its worker is replaced
        assert time.time() - t < 30
    raised, short, hung, fine = out
    assert [v.reward for v in raised] == [0, 0] and raised[0].info["error"] == "RuntimeError: boom"
    assert all("ValueError: batch returned 1 verdicts for 2" in v.info["error"] for v in short)
    assert [v.info["error"] for v in hung] == ["timeout"] * 3 and "1.5s" in hung[0].info["reason"]
    assert [v.reward for v in fine] == [2.0, 2.0]


def test_gate_counts_correctness_only_with_the_right_format():
    fn = RewardFunction([("format", 0.1, {}), ("math", 1.0, {}, "format", 1.0)], accuracy_from="math",
                        workers=1, timeout_s=5)
    try:
        s = fn(["so \\boxed{2}", "\\boxed{2} and more words", "\\boxed{3}"], ["2", "2", "2"])
    finally:
        fn.close()
    # 1: format 1, math 1 → 0.1 + 1 = 1.1;  2: text after the box, format 0 → gate shut: 0 + 0;
    # 3: format 1, math 0 → 0.1
    assert s.rewards == pytest.approx([1.1, 0.0, 0.1])
    assert s.correct == [True, True, False]  # accuracy is the raw math verdict, gate or not
    assert s.metrics["reward/math"] == pytest.approx(2 / 3)
    assert s.metrics["reward/math/gate_open"] == pytest.approx(2 / 3)
    assert s.metrics["reward/math/gated"] == pytest.approx(1 / 3)
    assert "reward/format/gated" not in s.metrics


def test_gates_and_duplicate_names_are_checked_in_the_config():
    with pytest.raises(ConfigError, match=r"reward.verifiers\[0\].gate.*allowed values: math"):
        load_config(None, {"reward": {"verifiers": [{"name": "format", "gate": "nope"}, {"name": "math"}]}})
    with pytest.raises(ConfigError, match="twice"):
        load_config(None, {"reward": {"verifiers": [{"name": "math"}, {"name": "math"}]}})
    with pytest.raises(ConfigError, match="package.module:ClassName"):
        load_config(None, {"reward": {"verifiers": [{"name": "no.such:Thing"}]}})
    cfg = load_config(None, {"reward": {"verifiers": [{"name": GROUP}]}})  # importable plugin: fine
    assert cfg.reward.verifiers[0].name == GROUP


def test_random_reward_ignores_the_output_but_is_reproducible():
    v = get("random", p=0.5, seed=3)
    group = ["same"] * 8
    first = [x.reward for x in v.batch(group, [None] * 8, [{"prompt": "q"}] * 8)]
    assert first == [x.reward for x in v.batch(group, [None] * 8, [{"prompt": "q"}] * 8)]  # resumable
    assert len(set(first)) == 2  # equal texts in one group still draw independently
    other_seed = [x.reward for x in get("random", p=0.5, seed=4).batch(group, [None] * 8, [{"prompt": "q"}] * 8)]
    assert other_seed != first
    draws = [x.reward for g in range(60) for x in v.batch([f"{g}-{i}" for i in range(8)], [None] * 8, [{}] * 8)]
    assert 0.4 < sum(draws) / len(draws) < 0.6  # 480 Bernoulli(0.5): std 0.023
    assert {x.reward for x in get("random", p=0.0).batch(group, [None] * 8, [{}] * 8)} == {0.0}
    assert {x.reward for x in get("random", p=1.0).batch(group, [None] * 8, [{}] * 8)} == {1.0}
    with pytest.raises(ValueError):
        get("random", p=1.5)


@pytest.mark.parametrize("completion, box_only, strict", [
    ("\\boxed{7}", 1.0, 1.0),
    ("\\boxed{7} and then more words", 1.0, 0.0),  # strict: text after the answer
    ("\\boxed{7} or \\boxed{8}", 1.0, 0.0),  # strict: several answers
    ("\\boxed{}", 0.0, 0.0),
    ("\\boxed{7", 0.0, 0.0),
    ("no box at all", 0.0, 0.0),
])
def test_box_only_format_is_the_spurious_papers_looser_check(completion, box_only, strict):
    assert get("format", box_only=True)(completion, None, {}).reward == box_only
    assert get("format")(completion, None, {}).reward == strict


CONTEXT = "Q: What is 2+3?\nA: We add the two numbers. The answer is \\boxed{5}.\n\nWhat is 7+8?"
ECHO = "Q: What is 2+3?\nA: We add the two numbers. The answer is \\boxed{5}."
ECHO_TABLE = [
    # (completion, reference, math reward, why)
    (ECHO, "15", 0.0, "only the worked example is repeated"),
    (ECHO, "5", 0.0, "a copied answer earns nothing even when it equals the reference"),
    (ECHO + "\nNow 7+8 = 15, so \\boxed{15}", "15", 1.0, "the echo is not a second (hedged) answer"),
    ("7 plus 8 is 15. The answer is \\boxed{15}.", "15", 1.0, "a short common phrase is not an echo"),
    ("We add the two numbers. The answer is \\boxed{15}.", "15", 1.0, "same words, different answer"),
]


@pytest.mark.parametrize("completion, reference, reward, why", ECHO_TABLE)
def test_answers_copied_from_the_prompt_do_not_count(completion, reference, reward, why):
    meta = verifier_meta("What is 7+8?", {}, CONTEXT)
    assert get("math")(completion, reference, meta).reward == reward, why


def test_echo_is_reported_and_format_ignores_a_copied_box():
    meta = verifier_meta("What is 7+8?", {}, CONTEXT)
    v = get("math")(ECHO, "5", meta)
    assert v.info == {"reason": "answer_in_prompt_echo", "echoed": 2}  # the box and its "The answer is" line
    assert get("format")(ECHO, None, meta).reward == 0.0
    assert get("format")(ECHO, None, {}).reward == 1.0  # without the context it looks well formed


def test_verifier_meta_takes_the_question_of_a_chat():
    chat = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "2+2?"}]
    # the question, and the chat itself (what a TRL function gets as `prompts`)
    assert verifier_meta(chat, {"id": 3}) == {"id": 3, "prompt": "2+2?", "prompt_messages": chat}
    assert "prompt_messages" not in verifier_meta("1+1?", {})
    assert verifier_meta("1+1?", {}, "ctx")["context"] == "ctx"


def test_reward_presets_layer_over_the_config(tiny_config_path):
    cfg = load_config(tiny_config_path, {"reward": {"workers": 2}}, reward="random")
    assert [v.name for v in cfg.reward.verifiers] == ["random", "math"]
    assert cfg.reward.verifiers[1].weight == 0.0 and cfg.reward.accuracy_from == "math"
    assert cfg.reward.workers == 2  # overrides still come last
    gated = load_config(tiny_config_path, reward="gated_math")
    assert gated.reward.verifiers[1].gate == "format"
    with pytest.raises(ConfigError, match="'--reward'; allowed values: .*format_only"):
        load_config(tiny_config_path, reward="nope")
