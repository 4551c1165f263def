"""What a step generates: the `Sampler` protocol and the `Rollout` it returns.

A sampler turns the prompt stream, the rollout engine and the reward function into one
step's groups of scored trajectories. Every random draw goes through the engine's and the
stream's own state (and the sampler's, which it checkpoints), so a resumed run collects
exactly what an uninterrupted one would. The contract suite (tests/contracts/
test_samplers.py) runs every entry of `rlvr.samplers.SAMPLERS` against this file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ClassVar, Protocol, runtime_checkable

import torch
from torch import Tensor

from rlvr.types import Completion, Sample

Render = Callable[[Sample], list[int]]


@dataclass
class Rollout:
    """One step's trajectories, in groups: group p holds the G completions of prompt p."""

    samples: list[Sample]
    """The P' prompts that made it into the batch (P' ≤ P with dynamic sampling)."""
    prompts: list[list[int]]
    """Their rendered token ids."""
    completions: list[Completion]
    """G per prompt, prompt-major; `prompt_index` points into `prompts`."""
    rewards: Tensor
    """[P', G] total reward (verifiers plus shaping)."""
    correct: list[bool]
    """Per completion: the accuracy verifier gave 1."""
    verdicts: list[dict]
    """Per completion: each verifier's verdict."""
    greedy_rewards: Tensor | None = None
    """[P'] reward of each prompt's greedy completion (ReMax's baseline), else None."""
    metrics: dict[str, float] = field(default_factory=dict)
    """Rollout metrics over every completion generated this step (all rounds)."""
    policy_mask: list[list[float]] | None = None
    """Per completion, per token: 1 where the policy generated the token, 0 where the sampler
    put it there (a hint's tokens); they are scored but not trained. None: all generated."""
    branch_of: list[int] | None = None
    """Per completion: the completion whose tokens its own continue (a tree's branch shares
    its parent's prefix), or −1; None: every completion stands alone."""
    token_credit: list[list[float]] | None = None
    """Per completion, per token: credit the sampler assigned (a tree's node values), for a
    method that trains on it; None: credit comes from `rewards` alone."""
    policy_versions: list[int] | None = None
    """Per completion: the policy version that generated it — how many training steps its
    weights had had (set by `pipeline.RolloutQueue`; a step t rollout of the synchronous loop
    has t − 1)."""

    @property
    def group_size(self) -> int:
        return int(self.rewards.shape[1])


@runtime_checkable
class Sampler(Protocol):
    """`SAMPLERS[name](cfg, tokenizer=..., inner=...)`; `wraps` True: it extends the rollout of
    an `inner` sampler (RISE's verification groups) instead of drawing prompts itself."""

    wraps: ClassVar[bool]

    @staticmethod
    def check_config(cfg) -> None:
        """Raise ConfigError for settings of its own section it cannot sample with."""

    def collect(self, stream, engine, reward_fn, render: Render) -> Rollout: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...

    def close(self) -> None: ...


def overlong_penalty(lengths: Tensor, *, max_len: int, buffer: int, penalty: float = 1.0) -> Tensor:
    """DAPO Eq. 13 (arXiv 2503.14476 §3.4): 0 up to max_len − buffer tokens, then falling
    linearly to −penalty at max_len (a completion cannot be longer than max_len here)."""
    start = max_len - buffer
    return -penalty * torch.clamp((lengths.float() - start) / buffer, min=0.0, max=1.0)


def mean_of(metrics: list[dict[str, float]]) -> dict[str, float]:
    """Per-round verifier metrics: counts (errors, timeouts) add up, means average over the
    rounds that report them (a per-constraint rate exists only where that constraint was drawn)."""
    keys = list(dict.fromkeys(k for m in metrics for k in m))
    out = {}
    for k in keys:
        values = [m[k] for m in metrics if k in m]
        out[k] = sum(values) if k in ("reward/errors", "reward/timeouts") else sum(values) / len(values)
    return out
