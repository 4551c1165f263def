"""RISE self-verification (arXiv 2505.13445): the verification reward, target scores, which
solutions are picked, the verification prompt, and how the groups join the step's batch."""
import time

import pytest
import torch

from rlvr.batching import collate
from rlvr.samplers import Rollout as Collected
from rlvr.samplers import SAMPLERS
from rlvr.config import ConfigError, load_config, mini_batch_size
from rlvr.models import load_tokenizer
from rlvr.samplers.self_verify import (TARGETS, TEMPLATES, SelfVerifySampler, append_groups, asked_question,
                              outcome_label, pick_solutions, verification_prompt)
from rlvr.types import Completion, Sample
from rlvr.verifiers import Verdict, get
from rlvr.verifiers.extract import last_boxed
from rlvr.verifiers.self_verify import parse_score, verification_metrics
from tests.conftest import CONFIGS

SCORE_TABLE = [
    # (completion, target, reward with `match`, reward with `rise`, why)
    ("Looks right. \\boxed{1}", "1", 1.0, 1.0, "the target score"),
    ("rating: \\boxed{1.0}.", "1", 1.0, 1.0, "1.0 is 1"),
    ("$\\boxed{+1}$", "1", 1.0, 1.0, "a plus sign"),
    ("\\boxed{-0.5}", "-0.5", 1.0, 1.0, "negative half"),
    ("\\boxed{\u22120.5}", "-0.5", 1.0, 1.0, "Unicode minus"),
    ("\\boxed{-\\frac{1}{2}}", "-0.5", 1.0, 1.0, "a LaTeX fraction"),
    ("\\boxed{-1/2}", "-0.5", 1.0, 1.0, "a slash fraction"),
    ("\\boxed{-.5}", "-0.5", 1.0, 1.0, "no leading zero"),
    ("\\boxed{1}", "-0.5", 0.0, -0.5, "another score"),
    ("\\boxed{-1}", "0", 0.0, -0.5, "another score, binary target"),
    ("\\boxed{1} on second thought \\boxed{-1}", "-1", 1.0, 1.0, "the last box counts"),
    ("the solution is right", "1", 0.0, -1.0, "no box: no score"),
    ("\\boxed{}", "1", 0.0, -1.0, "an empty box is no score"),
    ("\\boxed{1", "1", 0.0, -1.0, "unclosed box"),
    ("\\boxed{yes}", "1", 0.0, -0.5, "not a number"),
    ("\\boxed{1/0}", "1", 0.0, -0.5, "division by zero is not a score"),
    ("\\boxed{" + "9" * 100 + "}", "1", 0.0, -0.5, "too long to be a score"),
    ("", "1", 0.0, -1.0, "empty output"),
    ("\\boxed{1\ud800}", "1", 0.0, -0.5, "lone surrogate"),
    ("\\boxed{" + "{" * 50_000, "1", 0.0, -1.0, "deeply nested unclosed braces"),
]


@pytest.mark.parametrize("completion, target, match_reward, rise_reward, why", SCORE_TABLE)
def test_verification_reward(completion, target, match_reward, rise_reward, why):
    assert get("self_verify")(completion, target, {}).reward == match_reward, why
    assert get("self_verify", reward="rise")(completion, target, {}).reward == rise_reward, why


def test_reasons_and_answer_pattern():
    v = get("self_verify")
    assert v("no rating", "1", {}).info["reason"] == "no_score"
    assert v("\\boxed{yes}", "1", {}).info["reason"] == "not_a_score"
    assert v("\\boxed{1}", "1", {}).info == {"score": "1", "target": "1", "match": True}
    # the tiny model writes digits, never boxes: the last digit is its rating
    digit = get("self_verify", answer_pattern=r"(\d)")
    assert digit("x0 y1", "1", {}).reward == 1.0 and digit("x1 y0", "1", {}).reward == 0.0
    with pytest.raises(ValueError):
        v("\\boxed{1}", "not a score", {})  # a bad target is a trainer bug, not a zero
    with pytest.raises(ValueError):
        get("self_verify", reward="half")


def test_a_megabyte_of_output_is_fast():
    t = time.time()
    assert get("self_verify")("x{" * 500_000 + "\\boxed{1}", "1", {}).reward == 1.0
    assert time.time() - t < 1.0


def test_parse_score():
    assert parse_score("-\\dfrac{1}{2}") == parse_score("-0.5") == parse_score("$-0.5$.")
    assert parse_score("1 000") == 1000  # spaces go
    assert parse_score("1e3") is None and parse_score("") is None


def test_verification_metrics():
    verdicts = [Verdict(1.0, {"match": True}), Verdict(0.0, {"match": False, "reason": "no_score"}),
                Verdict(0.0, {"match": False}), Verdict(0.0, {"error": "timeout"})]
    # 1 match of 4; 1 without a score of 4
    assert verification_metrics(verdicts) == {"self_verify/accuracy": 0.25, "self_verify/no_score_frac": 0.25}


TARGET_TABLE = [
    # (solution correct, outcome verdict, label, rise target, binary target)
    (True, Verdict(1.0, {"answer": "42", "correct": True}), "correct", "1", "1"),
    (False, Verdict(0.0, {"reason": "no_answer"}), "no_answer", "-1", "0"),
    (False, Verdict(0.0, {"answer": "41", "correct": False}), "wrong", "-0.5", "0"),
    (False, Verdict(0.0, {"reason": "unparsable", "answer": "?"}), "wrong", "-0.5", "0"),
    (False, Verdict(0.0, {"reason": "several_answers"}), "wrong", "-0.5", "0"),
]


@pytest.mark.parametrize("correct, verdict, label, rise, binary", TARGET_TABLE)
def test_targets(correct, verdict, label, rise, binary):
    assert outcome_label(correct, verdict) == label
    assert TARGETS["rise"][label] == rise and TARGETS["binary"][label] == binary


T, F = True, False
PICK_TABLE = [
    # (correct, usable, G, n, picks, derivation)
    ([F, F, F, F, F, T, F, F, T, F, T, F, F, F, F, F], [T] * 16, 4, 2, [5, 9],
     "pick 0 starts at group 0 and wants a correct one: group 0 has none, group 1's first is 5; "
     "pick 1 starts at group 2 (1·4//2) and wants a wrong one: 8 is correct, 9 is not"),
    ([T, F, T, T], [T] * 4, 2, 3, [0, 1, 2],
     "n > P: picks start at groups 0, 0 (1·2//3), 1 (2·2//3); want correct, wrong, correct (1 of 2 "
     "so far is correct: a tie)"),
    ([T, F, F, F], [F, T, T, F], 2, 4, [1, 2],
     "two usable solutions cap n at 2; neither is correct, so each pick takes the first free one"),
    ([T] * 6, [T] * 6, 3, 2, [0, 3],
     "all correct: the second pick wants a wrong one, finds none, takes its own group's first"),
]


@pytest.mark.parametrize("correct, usable, G, n, picks, why", PICK_TABLE)
def test_pick_solutions(correct, usable, G, n, picks, why):
    assert pick_solutions(correct, usable, G, n) == picks, why


def test_question_and_prompt():
    assert asked_question(Sample("What is 1 + 1?", "2"), "{prompt} Box it.") == "What is 1 + 1? Box it."
    chat = [{"role": "system", "content": "s"}, {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "a"}, {"role": "user", "content": "q2"}]
    assert asked_question(Sample(chat, "2")) == "q2"
    # one pass: braces in the template stay, fields inside the question or solution are not filled
    text = verification_prompt("Q: {question}\nS: {solution}\nRate \\boxed{1}.", "is {solution} {x}?",
                               "  \\boxed{2} {question}\n")
    assert text == "Q: is {solution} {x}?\nS: \\boxed{2} {question}\nRate \\boxed{1}."
    for template in TEMPLATES.values():
        assert "{question}" in template and "{solution}" in template


def _collected(n_prompts, G, *, first_prompt=0, texts=None, rewards=None):
    samples = [Sample(f"q{first_prompt + p}", str(p)) for p in range(n_prompts)]
    completions = [Completion([7] * (j + 1), [0.0] * (j + 1), (texts or {}).get(p * G + j, f"{p}:{j}"), "stop", p)
                   for p in range(n_prompts) for j in range(G)]
    r = torch.tensor(rewards, dtype=torch.float32) if rewards is not None else torch.zeros(n_prompts, G)
    return Collected(samples=samples, prompts=[[1, 2 + p] for p in range(n_prompts)], completions=completions,
                     rewards=r.view(n_prompts, G), correct=[bool(x) for x in r.reshape(-1)],
                     verdicts=[{"math": Verdict(float(x))} for x in r.reshape(-1)], metrics={"accuracy": 0.25})


def test_append_groups_keeps_order_and_shifts_prompt_indices():
    got = _collected(2, 2, rewards=[[1, 0], [0, 0]])
    extra = _collected(1, 2, first_prompt=9, rewards=[[1, 1]])
    extra.metrics = {"self_verify/groups": 1.0}
    merged = append_groups(got, extra)
    assert [s.prompt for s in merged.samples] == ["q0", "q1", "q9"]
    assert [c.prompt_index for c in merged.completions] == [0, 0, 1, 1, 2, 2]
    assert merged.rewards.tolist() == [[1, 0], [0, 0], [1, 1]]
    assert merged.correct == [T, F, F, F, T, T] and len(merged.verdicts) == 6
    assert merged.metrics == {"accuracy": 0.25, "self_verify/groups": 1.0}  # the generation metrics stay
    batch = collate(merged.prompts, merged.completions, pad_id=0)
    assert len(batch) == 6 and batch.input_ids[4, :2].tolist() == [1, 2 + 0]  # group 3's prompt: extra's first


class ScriptedEngine:
    """Verification j of prompt p says `script[p][j]`; records the prompts it was given."""

    def __init__(self, script):
        self.script, self.prompts = script, []

    def generate(self, prompts, n, sampling):
        self.prompts += prompts
        return [Completion([5] * 3, [0.0] * 3, self.script[p][j], "stop", p)
                for p in range(len(prompts)) for j in range(n)]


def test_extend_scores_verifications_in_the_pool_and_appends_them(tiny_config_path):
    cfg = load_config(tiny_config_path, ["--self_verify.enabled=true", "--rollout.group_size=3",
                                         "--rollout.prompts_per_step=2", "--data.system_prompt=Be careful.",
                                         "--data.few_shot=[{prompt: 'What is 5 + 5?', completion: '10'}]",
                                         "--self_verify.few_shot=[{question: Q0, solution: S0, completion: R0}]"])
    tok = load_tokenizer("tiny")
    got = _collected(2, 3, rewards=[[1, 0, 0], [0, 0, 0]], texts={0: "1+0=1", 3: "I don't know"})
    got.verdicts[3] = {"math": Verdict(0.0, {"reason": "no_answer"})}
    # picks (hand): pick 0 wants a correct one from group 0 → 0 (target 1); pick 1 starts at
    # group 1 and wants a wrong one → 3, which had no answer (target −1 on the rise scale)
    engine = ScriptedEngine([["\\boxed{1}", "\\boxed{-1}", "no idea"],
                             ["\\boxed{-1}", "\\boxed{ -1.0 }", "\\boxed{-0.5}"]])
    sv = SelfVerifySampler(cfg, tokenizer=tok, inner=SAMPLERS["groups"](cfg))
    try:
        merged = sv.extend(got, engine)
    finally:
        sv.close()
    assert [s.answer for s in merged.samples[2:]] == ["1", "-1"]
    assert [s.meta["self_verify"]["outcome"] for s in merged.samples[2:]] == ["correct", "no_answer"]
    # match rewards: group "1": [1, 0, 0]; group "−1": [1, 1 (−1.0 is −1), 0]
    assert merged.rewards.tolist() == [[1, 0, 0], [0, 0, 0], [1, 0, 0], [1, 1, 0]]
    assert [c.prompt_index for c in merged.completions] == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3
    assert merged.verdicts[8]["self_verify"].info["reason"] == "no_score"
    m = merged.metrics
    # 3 of 6 verifications match; 1 of 6 wrote no rating; 1 of 2 solutions was correct
    assert m["self_verify/accuracy"] == 0.5 and m["self_verify/reward_mean"] == 0.5
    assert m["self_verify/no_score_frac"] == pytest.approx(1 / 6)
    assert m["self_verify/groups"] == 2 and m["self_verify/solutions_correct_frac"] == 0.5
    assert m["accuracy"] == 0.25  # the generation task's metric is untouched
    shown = tok.decode(engine.prompts[0])
    assert "Be careful." in shown and "Q0" in shown and "R0" in shown  # system prompt, worked verification
    assert "What is 5 + 5?" not in shown  # the data's solving example is not shown
    assert "Question:\nq0\n\nSolution:\n1+0=1" in shown and "Question:\nq1\n\nSolution:\nI don't know" in \
        tok.decode(engine.prompts[1])


def test_config_surface(tiny_config_path):
    on = ["--self_verify.enabled=true"]
    cfg = load_config(tiny_config_path, on + ["--self_verify.solutions=3"])
    assert mini_batch_size(cfg) == (4 + 3) * 8  # the whole batch, verification groups included
    assert mini_batch_size(load_config(tiny_config_path, on + ["--algo.mini_batches=4"])) == 12  # (4 + 2)·8 / 4
    with pytest.raises(ConfigError, match=r"\(prompts_per_step \+ self_verify.solutions\) × group_size = 40"):
        load_config(tiny_config_path, on + ["--algo.mini_batches=3", "--self_verify.solutions=1"])  # 40 / 3
    for bad, message in [(["--self_verify.solutions=0"], "self_verify.solutions"),
                         (["--self_verify.solutions=33"], "self_verify.solutions"),
                         (["--self_verify.template=rate {solution}"], "{question}"),
                         (["--self_verify.answer_pattern=(\\d"], "answer_pattern"),
                         (["--algo.advantage=remax"], "greedy baseline"),
                         (["--algo.advantage=jepo", "--algo.reduce=seq_mean_token_sum"], "reference answer"),
                         (["--self_verify.targets=five"], "targets")]:
        with pytest.raises(ConfigError, match=message):
            load_config(tiny_config_path, on + bad)
    assert load_config(tiny_config_path, ["--algo.advantage=remax"]).self_verify.enabled is False  # off: no check


def test_rise_preset_examples_rate_on_its_target_scale():
    cfg = load_config(str(CONFIGS / "rise.yaml"))
    sv = cfg.self_verify
    assert sv.enabled and sv.targets == "rise" and cfg.model.path == "smollm2-135m-instruct"
    # the worked verifications end with ratings of the rise scale: one wrong (−0.5), one right (1)
    ratings = [parse_score(last_boxed(shot.completion)) for shot in sv.few_shot]
    assert sorted(ratings) == [parse_score(TARGETS["rise"]["wrong"]), parse_score(TARGETS["rise"]["correct"])]
