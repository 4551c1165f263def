"""Methods: what a step learns from a rollout (`base.Method`, preparing a `base.TrainBatch`).

`METHODS` maps `algo.method` to a class. Left empty, the key is the method that lists
`algo.advantage` among its `advantages`: `ppo` for `gae`, `jepo` for `jepo`, `policy_gradient`
for every other estimator. A new method is a class implementing the protocol plus one line
here (docs/architecture.md, "Add an algorithm") — or a plug-in named by import path
(`algo.method: mypkg.methods:MyMethod`).
"""
from __future__ import annotations

from rlvr.methods.base import LossTerm, Method, TermInputs, TrainBatch
from rlvr.methods.jepo import JEPO
from rlvr.methods.objective import mini_batch_size, rollout_batch_size, update_policy
from rlvr.methods.policy_gradient import PolicyGradient
from rlvr.methods.ppo import PPO
from rlvr.plugins import import_dotted

METHODS: dict[str, type] = {
    "policy_gradient": PolicyGradient,
    "ppo": PPO,
    "jepo": JEPO,
}


def method_name(cfg) -> str:
    """`algo.method`, or the method that trains with `algo.advantage`."""
    if cfg.algo.method:
        return cfg.algo.method
    owners = [name for name, cls in METHODS.items() if cfg.algo.advantage in cls.advantages]
    assert len(owners) == 1, (cfg.algo.advantage, owners)  # the contract suite: one owner per estimator
    return owners[0]


def method_class(cfg) -> type:
    """The configured method: a registered one, or a plug-in `package.module:Class`."""
    name = method_name(cfg)
    return METHODS[name] if name in METHODS else import_dotted(name)


def build_method(cfg, model, tokenizer) -> Method:
    return method_class(cfg)(cfg, model, tokenizer)


__all__ = ["JEPO", "METHODS", "PPO", "LossTerm", "Method", "PolicyGradient", "TermInputs", "TrainBatch",
           "build_method", "method_class", "method_name", "mini_batch_size", "rollout_batch_size", "update_policy"]
