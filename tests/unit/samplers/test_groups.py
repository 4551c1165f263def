"""Dynamic sampling, overlong shaping and greedy baselines in the collection stage."""
import torch

from rlvr.samplers import build_sampler, overlong_penalty
from rlvr.config import load_config
from rlvr.types import Completion, Sample
from rlvr.verifiers.reward import Scored


def collect(stream, engine, reward_fn, render, cfg, *, greedy=False):
    """One step of the sampler the config chooses (a method needing greedy rewards: `greedy`)."""
    return build_sampler(cfg, None, needs_greedy=greedy).collect(stream, engine, reward_fn, render)


class CountingStream:
    """Prompts 0, 1, 2, ... whose number says how their group will be rewarded."""

    def __init__(self):
        self.position = 0

    def next(self, n):
        out = [Sample(prompt=str(self.position + k), answer=str(self.position + k)) for k in range(n)]
        self.position += n
        return out


class FakeEngine:
    """Completion j of prompt "i" has j+1 tokens; text "i:j"; greedy gives "i:g"."""

    def generate(self, prompts, n, sampling):
        out = []
        for p, ids in enumerate(prompts):
            for j in range(n):
                greedy = sampling.temperature == 0
                length = min(j + 1, sampling.max_new_tokens)
                out.append(Completion([1] * length, [0.0] * length, f"{ids[0]}:{'g' if greedy else j}",
                                      "length" if length == sampling.max_new_tokens else "stop", p))
        return out


def mixed_every_third(texts, refs, metas, groups=None, completion_ids=None):
    """Prompt i's group is all-equal (reward 0) unless i % 3 == 2, where sample 0 gets 1;
    the greedy completion gets 0.5. Each completion's token ids come along (for TRL functions)."""
    assert completion_ids is not None and all(ids and set(ids) == {1} for ids in completion_ids)
    assert len(completion_ids) == len(texts)
    rewards = []
    for t in texts:
        i, j = t.split(":")
        rewards.append(0.5 if j == "g" else float(int(i) % 3 == 2 and j == "0"))
    return Scored(rewards, [r == 1 for r in rewards], [{} for _ in rewards], {"reward/math": 0.0,
                                                                             "reward/errors": 1.0})


def _cfg(**over):
    return load_config(None, {"rollout": {"prompts_per_step": 2, "group_size": 3, "max_new_tokens": 8, **over}})


def test_dynamic_sampling_drops_all_equal_groups_and_refills():
    cfg = _cfg(dynamic_sampling=True, max_gen_rounds=10)
    stream = CountingStream()
    got = collect(stream, FakeEngine(), mixed_every_third, lambda s: [int(s.prompt)], cfg)
    # rounds of 2 prompts: (0,1) none mixed, (2,3) keeps 2, (4,5) keeps 5 → 3 rounds, 4 dropped
    assert [s.prompt for s in got.samples] == ["2", "5"]
    assert got.rewards.tolist() == [[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]]
    assert [c.prompt_index for c in got.completions] == [0, 0, 0, 1, 1, 1]
    assert got.completions[3].text == "5:0"
    assert got.metrics["dynamic/rounds"] == 3 and got.metrics["dynamic/dropped_groups"] == 4
    assert got.metrics["dynamic/short_groups"] == 0
    assert got.metrics["reward/errors"] == 3.0  # counts add up over the 3 rounds
    assert stream.position == 6


def test_dynamic_sampling_round_cap_trains_on_what_it_has():
    cfg = _cfg(dynamic_sampling=True, max_gen_rounds=2)
    got = collect(CountingStream(), FakeEngine(), mixed_every_third, lambda s: [int(s.prompt)], cfg)
    # two rounds: prompts 0..3, only prompt 2 is mixed
    assert [s.prompt for s in got.samples] == ["2"] and got.metrics["dynamic/short_groups"] == 1


def test_oversampling_draws_more_prompts_per_round():
    cfg = _cfg(dynamic_sampling=True, max_gen_rounds=10, oversample=2.0)
    stream = CountingStream()
    got = collect(stream, FakeEngine(), mixed_every_third, lambda s: [int(s.prompt)], cfg)
    # rounds of 4 prompts: (0..3) keeps 2, (4..7) keeps 5 (and would keep nothing more) → 2 rounds
    assert [s.prompt for s in got.samples] == ["2", "5"] and got.metrics["dynamic/rounds"] == 2
    assert stream.position == 8


def test_without_dynamic_sampling_every_group_is_kept():
    got = collect(CountingStream(), FakeEngine(), mixed_every_third, lambda s: [int(s.prompt)], _cfg())
    assert len(got.samples) == 2 and got.rewards.shape == (2, 3) and "dynamic/rounds" not in got.metrics


def test_overlong_penalty_is_linear_over_the_buffer():
    # max 8, buffer 4: lengths ≤ 4 → 0; 5 → −1/4; 6 → −2/4; 8 → −1 (times the penalty 2)
    got = overlong_penalty(torch.tensor([3, 4, 5, 6, 8]), max_len=8, buffer=4, penalty=2.0)
    assert torch.allclose(got, torch.tensor([0.0, 0.0, -0.5, -1.0, -2.0]))


def test_overlong_shaping_and_greedy_rewards_in_collect():
    cfg = load_config(None, {"rollout": {"prompts_per_step": 1, "group_size": 3, "max_new_tokens": 3},
                             "reward": {"overlong_buffer": 2}})
    got = collect(CountingStream(), FakeEngine(), mixed_every_third, lambda s: [int(s.prompt)], cfg, greedy=True)
    # prompt 0: verifier rewards 0; lengths 1, 2, 3 with max 3, buffer 2 → penalties 0, −½, −1
    assert got.rewards.tolist() == [[0.0, -0.5, -1.0]]
    # the greedy completion (length 1) keeps its 0.5
    assert got.greedy_rewards.tolist() == [0.5]


def test_dynamic_sampling_keeps_groups_by_correctness_as_dapo_does():
    """Issue 10 fix 1 (DAPO Eq. 11: keep iff 0 < #correct < G): a group with no correct answer
    but unequal overlong penalties was kept and trained on length alone. FakeEngine's
    completion j has j+1 tokens: with max_new_tokens 3 and a 2-token buffer, lengths 1, 2, 3
    get penalties 0, −0.5, −1 — a spread of rewards in every group."""
    def never_correct(texts, refs, metas, groups=None, completion_ids=None):
        return Scored([0.0] * len(texts), [False] * len(texts), [{} for _ in texts], {})

    def mixed(texts, refs, metas, groups=None, completion_ids=None):  # prompt i: sample 0 correct iff i is odd
        ok = [int(t.split(":")[0]) % 2 == 1 and t.endswith(":0") for t in texts]
        return Scored([float(x) for x in ok], ok, [{} for _ in texts], {})

    shaped = dict(dynamic_sampling=True, max_gen_rounds=3, max_new_tokens=3)
    over = {"reward": {"overlong_buffer": 2}}
    cfg = load_config(None, {"rollout": {"prompts_per_step": 2, "group_size": 3, **shaped}, **over})
    got = collect(CountingStream(), FakeEngine(), never_correct, lambda s: [int(s.prompt)], cfg)
    # every group is all wrong: none kept, 3 rounds × 2 prompts dropped
    assert len(got.samples) == 0 and got.metrics["dynamic/dropped_groups"] == 6
    got = collect(CountingStream(), FakeEngine(), mixed, lambda s: [int(s.prompt)], cfg)
    assert [s.prompt for s in got.samples] == ["1", "3"]  # the odd prompts have one correct of three
    spread = load_config(None, {"rollout": {"prompts_per_step": 2, "group_size": 3, **shaped,
                                            "dynamic_filter": "reward_spread"}, **over})
    got = collect(CountingStream(), FakeEngine(), never_correct, lambda s: [int(s.prompt)], spread)
    assert [s.prompt for s in got.samples] == ["0", "1"]  # the old rule: the penalties differ
