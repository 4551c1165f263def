"""What a step learns from a rollout: the `Method` protocol, its `TrainBatch`, and the loss
terms a method's loss is the sum of.

A method prepares, without gradients, everything its loss needs (`prepare`: the padded batch,
advantages, old/reference log-probs, critic values, JEPO's answer likelihoods); the shared
optimisation (`rlvr.optimise`) then minimises the sum of its `terms`; `after_update` runs what
follows the policy's optimizer steps (the critic's own update). Each term declares what it
needs and whether it is linear in the advantage — when every term is, rows with zero
advantage contribute exactly nothing and are skipped. Nothing is found by name or by probing:
the contract suite (tests/contracts/test_methods.py) runs every entry of `METHODS`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Protocol, runtime_checkable

from torch import Tensor

from rlvr.batching import RolloutBatch
from rlvr.samplers.base import Rollout


@dataclass
class TermInputs:
    """What a loss term sees of one micro-batch."""

    rows: Tensor
    """[B] indices of the micro-batch's rows in the batch."""
    mini_batch: Tensor
    """[M] the rows of the mini-batch the micro-batch belongs to."""
    logp: Tensor
    """[B, C] the policy's log-probs of the tokens (with gradients)."""
    entropy: Tensor
    """[B, C] the entropy of each next-token distribution (with gradients if a term asked)."""
    old_logp: Tensor
    """[B, C] π_old's log-probs (the detached current ones when the step is on-policy)."""
    mask: Tensor
    """[B, C] 1 on the tokens the policy loss trains."""
    advantages: Tensor
    """[B] or [B, C]."""
    reduce: Callable[[Tensor, Tensor], Tensor]
    """`algo.reduce` bound to the mini-batch's denominators."""
    entropy_mean: Callable[[Tensor, Tensor], Tensor]
    """Token mean over the mini-batch's tokens."""
    batch: TrainBatch


@runtime_checkable
class LossTerm(Protocol):
    needs: ClassVar[frozenset[str]]
    """Inputs beyond log-probs: `old_logp` (π_old's, scored before the update unless the step
    is on-policy), `ref_logp` (a reference model's), `entropy_grad` (the entropy with
    gradients), `answer_weights` (JEPO's supervised weights)."""
    linear_in_advantage: ClassVar[bool]
    """Exactly zero value and gradient for a row whose advantage is zero."""

    def __call__(self, x: TermInputs) -> tuple[Tensor, dict[str, Any]]:
        """(this term's signed contribution to the loss, its metrics)."""


@dataclass
class TrainBatch:
    """A method's prepared step: what the shared optimisation trains on."""

    batch: RolloutBatch
    advantages: Tensor
    """[N] per sequence or [N, C] per token."""
    rewards: Tensor
    """[P, G] the values the advantages came from (logged beside the samples)."""
    terms: list
    """The `LossTerm`s whose sum is minimised."""
    old_logp: Tensor | None = None
    """[N, C] π_old, when it was scored before the update (None: the step's own)."""
    ref_logp: Tensor | None = None
    """[N, C] the reference model's log-probs, when a term needs them."""
    answer_weights: Tensor | None = None
    """[N] JEPO's supervised weights."""
    extra: dict = field(default_factory=dict)
    """What the method keeps for `after_update` (a critic's values and returns)."""
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def learns_at_zero_advantage(self) -> bool:
        """Some term trains even where every advantage is 0 (entropy, KL, supervised)."""
        return not all(t.linear_in_advantage for t in self.terms)


@runtime_checkable
class Method(Protocol):
    """`METHODS[name](cfg, model, tokenizer)`."""

    advantages: ClassVar[tuple[str, ...]]
    """The `algo.advantage` values this method trains with; an empty `algo.method` picks the
    method that lists the configured advantage."""
    rewards_from_verifiers: ClassVar[bool]
    """Whether it learns from the sampler's verifier rewards (JEPO learns from the reference
    answer's likelihood instead, so it cannot train RISE's verification groups)."""

    @staticmethod
    def check_config(cfg) -> None:
        """Raise ConfigError for settings of its own sections this method cannot train with."""

    @staticmethod
    def needs_greedy_rewards(cfg) -> bool:
        """Whether the sampler must also score a greedy completion per prompt (ReMax)."""

    def prepare(self, rollout: Rollout, *, step: int) -> TrainBatch: ...

    def after_update(self, train: TrainBatch, *, step: int) -> dict[str, float]: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...
