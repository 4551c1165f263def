"""The Sampler contract (rlvr/samplers/base.py), run against every entry of SAMPLERS and the
toy plug-in of tests/plugins.py: group layout, seeded determinism, exact resume."""
import copy
from functools import partial

import pytest

from rlvr.config import load_config
from rlvr.data import PromptStream, prompt_ids
from rlvr.models import tiny_model
from rlvr.rollout import build_engine
from rlvr.samplers import SAMPLERS, Sampler, sampler_class
from rlvr.verifiers.reward import build_reward_function

NAMES = sorted(SAMPLERS) + ["tests.plugins:BestOfNSampler"]
P, G = 2, 3


def _cfg(tiny_config_path):
    return load_config(tiny_config_path, [f"--rollout.prompts_per_step={P}", f"--rollout.group_size={G}",
                                          "--self_verify.enabled=true", "--self_verify.solutions=1",
                                          "--self_verify.answer_pattern=(-?\\d+)"])


class Run:
    """A sampler with everything it draws from, built afresh (as a resumed process would)."""

    def __init__(self, name, cfg):
        cls = sampler_class(name)
        self.model, self.tok = tiny_model(0)
        inner = SAMPLERS["groups"](cfg) if cls.wraps else None
        self.sampler = cls(cfg, tokenizer=self.tok, inner=inner, greedy=name == "greedy_baseline")
        self.engine = build_engine("hf", self.model, self.tok, seed=7)
        self.stream = PromptStream(cfg.data, seed=3)
        self.reward = build_reward_function(cfg)
        self.render = partial(prompt_ids, self.tok, cfg=cfg.data)

    def collect(self):
        return self.sampler.collect(self.stream, self.engine, self.reward, self.render)

    def state(self):
        return copy.deepcopy({"sampler": self.sampler.state_dict(), "engine": self.engine.state_dict(),
                              "data": self.stream.state_dict()})

    def load(self, state):
        self.sampler.load_state_dict(state["sampler"])
        self.engine.load_state_dict(state["engine"])
        self.stream.load_state_dict(state["data"])

    def close(self):
        self.reward.close()
        self.sampler.close()


def _fingerprint(rollout):
    return ([c.token_ids for c in rollout.completions], rollout.rewards.tolist(), [s.prompt for s in rollout.samples])


@pytest.mark.parametrize("name", NAMES)
def test_sampler_contract(name, tiny_config_path):
    cfg = _cfg(tiny_config_path)
    a, b = Run(name, cfg), Run(name, cfg)
    try:
        assert isinstance(a.sampler, Sampler)
        sampler_class(name).check_config(cfg)
        first = a.collect()
        n, g = first.rewards.shape
        assert g == first.group_size and len(first.completions) == n * g == len(first.correct) == len(first.verdicts)
        assert [c.prompt_index for c in first.completions] == [p for p in range(n) for _ in range(g)]
        assert len(first.prompts) == len(first.samples) == n >= 1
        assert {"reward/mean", "accuracy", "length/mean"} <= set(first.metrics)
        if name == "greedy_baseline":
            assert first.greedy_rewards is not None and first.greedy_rewards.shape == (n,)
        # the same seeds draw the same rollout
        assert _fingerprint(b.collect()) == _fingerprint(first)
        # exact resume: a fresh process restored from the state after step 1 collects step 2 alike
        state = a.state()
        second = a.collect()
        c = Run(name, cfg)
        try:
            c.load(state)
            assert _fingerprint(c.collect()) == _fingerprint(second)
        finally:
            c.close()
    finally:
        a.close()
        b.close()
