"""Samplers: what a step generates (`base.Sampler`, returning a `base.Rollout`).

`SAMPLERS` maps `rollout.sampler` to a class. Left empty, the key is chosen from the other
settings: `dynamic` with `rollout.dynamic_sampling`, `greedy_baseline` when the method needs a
greedy completion per prompt (ReMax), else `groups`; `self_verify.enabled` wraps the chosen
one in `self_verify` (RISE). A new sampler is a class implementing the protocol plus one line
here (docs/architecture.md, "Add a sampler") — or, without touching rlvr, a plug-in named by
import path (`rollout.sampler: mypkg.samplers:BestOfN`).
"""
from __future__ import annotations

from rlvr.plugins import import_dotted
from rlvr.samplers.base import Rollout, Sampler, overlong_penalty
from rlvr.samplers.groups import DynamicSampler, GreedyBaselineSampler, GroupSampler
from rlvr.samplers.self_verify import SelfVerifySampler

SAMPLERS: dict[str, type] = {
    "groups": GroupSampler,
    "dynamic": DynamicSampler,
    "greedy_baseline": GreedyBaselineSampler,
    "self_verify": SelfVerifySampler,
}


def sampler_class(name: str) -> type:
    """A registered sampler, or a plug-in `package.module:Class`."""
    if name in SAMPLERS:
        return SAMPLERS[name]
    if ":" in name:
        return import_dotted(name)
    raise ValueError(f"unknown sampler {name!r}; allowed values: {', '.join(sorted(SAMPLERS))}, "
                     "or 'package.module:Class'")


def sampler_name(cfg, *, needs_greedy: bool) -> str:
    """The base sampler a config asks for (before any wrapping sampler)."""
    if cfg.rollout.sampler:
        return cfg.rollout.sampler
    if cfg.rollout.dynamic_sampling:
        return "dynamic"
    return "greedy_baseline" if needs_greedy else "groups"


def sampler_for(cfg, tokenizer, method) -> Sampler:
    """The run's sampler for its method: the method says whether it trains against a greedy
    completion's reward (ReMax), which picks the sampler that also collects one."""
    return build_sampler(cfg, tokenizer, needs_greedy=method.needs_greedy_rewards(cfg))


def build_sampler(cfg, tokenizer, *, needs_greedy: bool) -> Sampler:
    """The run's sampler: the base one, wrapped by `self_verify` when enabled. `needs_greedy`:
    the method trains against a greedy completion's reward (it says so itself)."""
    sampler = sampler_class(sampler_name(cfg, needs_greedy=needs_greedy))(cfg, tokenizer=tokenizer, greedy=needs_greedy)
    if cfg.self_verify.enabled:
        sampler = SAMPLERS["self_verify"](cfg, tokenizer=tokenizer, inner=sampler)
    return sampler


__all__ = ["SAMPLERS", "DynamicSampler", "GreedyBaselineSampler", "GroupSampler", "Rollout", "Sampler",
           "SelfVerifySampler", "build_sampler", "sampler_for", "overlong_penalty", "sampler_class", "sampler_name"]
