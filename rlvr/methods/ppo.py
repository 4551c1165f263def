"""`ppo`: PPO with a learned critic (Schulman et al., arXiv 1707.06347; the RLHF form of
Ouyang et al. 2022): token advantages by GAE over the outcome reward on the last token (minus
β·KL on every token with `algo.kl_in_reward`), whitened over the batch's tokens; after the
policy's optimizer steps, the value model takes the same epochs and mini-batches on the
clipped value loss (§5). docs/algorithms/ppo.md maps the equations to this file.
"""
from __future__ import annotations

from functools import partial
from typing import ClassVar

import torch
from torch import Tensor

from rlvr.algos.gae import TOKEN_ADVANTAGES, VALUE_LOSSES, outcome_token_rewards, whiten
from rlvr.algos.reduce import token_mean
from rlvr.batching import RolloutBatch
from rlvr.configtools import ConfigError
from rlvr.methods.base import TrainBatch
from rlvr.methods.critic import ValueModel, completion_values, score_values
from rlvr.methods.objective import mini_batch_size
from rlvr.methods.policy_gradient import PolicyGradient
from rlvr.optimise import Passes, optimise
from rlvr.samplers.base import Rollout


def token_advantages(cfg, rewards: Tensor, mask: Tensor, values: Tensor,
                     kl: Tensor | None) -> tuple[Tensor, Tensor]:
    """(advantages, returns), both [N, C], from GAE over token rewards — the outcome reward on
    the last token, minus β·KL on every token with `kl_in_reward`."""
    token_rewards = outcome_token_rewards(rewards.reshape(-1), mask)
    if kl is not None:
        token_rewards = token_rewards - cfg.algo.kl_coef * kl * mask
    adv, returns = TOKEN_ADVANTAGES[cfg.algo.advantage](token_rewards, values, mask, **cfg.algo.advantage_args)
    if cfg.critic.whiten_advantages:
        adv = whiten(adv, mask)  # padding stays 0
    return adv, returns


class ValueObjective:
    """The clipped value loss, token-mean over the mini-batch (PPO §5)."""

    name = "value"
    grad_norm_key = "value/grad_norm"
    fill_missing_grads = False

    def __init__(self, critic: ValueModel, batch: RolloutBatch, returns: Tensor, old_values: Tensor, cfg) -> None:
        self.critic, self.batch, self.returns, self.old_values, self.cfg = critic, batch, returns, old_values, cfg
        self.mask = batch.mask
        self.loss_fn = partial(VALUE_LOSSES["clipped_mse"], clip=cfg.critic.value_clip)

    def begin(self, mb: Tensor) -> Tensor:
        self.reduce = partial(token_mean, total_tokens=self.mask[mb].sum())
        return mb

    def micro(self, rows: Tensor) -> tuple[Tensor, dict, float]:
        values = completion_values(self.critic, self.batch, rows, precision=self.cfg.model.autocast)
        loss, m = self.loss_fn(values, self.old_values[rows], self.returns[rows], self.mask[rows], reduce=self.reduce)
        return loss, {**m, "value/loss": loss.detach()}, float(self.mask[rows].sum())


class PPO(PolicyGradient):
    advantages: ClassVar[tuple[str, ...]] = tuple(TOKEN_ADVANTAGES)
    rewards_from_verifiers: ClassVar[bool] = True

    def __init__(self, cfg, model, tokenizer) -> None:
        super().__init__(cfg, model, tokenizer)
        self.critic = ValueModel(model).train()  # initialised from the policy
        self.critic_opt = torch.optim.AdamW(self.critic.parameters(), lr=cfg.critic.lr, betas=tuple(cfg.optim.betas))

    @staticmethod
    def check_config(cfg) -> None:
        if cfg.algo.filter != "none":
            raise ConfigError(f"'algo.filter' ({cfg.algo.filter}) needs an advantage computed from a group's "
                              f"rewards alone; '{cfg.algo.advantage}' (PPO's critic) is not (allowed with a filter: "
                              + ", ".join(n for n in PolicyGradient.advantages if n != "remax") + ")")

    @staticmethod
    def needs_greedy_rewards(cfg) -> bool:
        return False

    def advantages_of(self, rollout: Rollout, rewards: Tensor, batch: RolloutBatch,
                      kl: Tensor | None) -> tuple[Tensor, dict, dict]:
        values = score_values(self.critic, batch, micro_batch_size=self.cfg.optim.micro_batch_size,
                              precision=self.cfg.model.autocast)
        advantages, returns = token_advantages(self.cfg, rewards, batch.mask, values, kl)
        return advantages, {"values": values, "returns": returns}, {}

    def after_update(self, train: TrainBatch, *, step: int) -> dict[str, float]:
        """The value model's steps on this rollout batch: the policy's epochs and mini-batches,
        in their own seeded order."""
        cfg, n = self.cfg, len(train.batch)
        passes = Passes(epochs=cfg.algo.epochs, mini_size=min(mini_batch_size(cfg), n),
                        micro_size=cfg.optim.micro_batch_size, grad_clip=cfg.optim.grad_clip,
                        seed=cfg.run.seed * 2_000_003)
        objective = ValueObjective(self.critic, train.batch, train.extra["returns"], train.extra["values"], cfg)
        params = [p for p in self.critic.parameters() if p.requires_grad]
        return optimise(objective, params=params, optimizer=self.critic_opt, passes=passes, n_rows=n,
                        step=step).metrics

    def state_dict(self) -> dict:
        return {**super().state_dict(), "critic": self.critic.state_dict(),
                "critic_optimizer": self.critic_opt.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        self.critic.load_state_dict(state["critic"])
        self.critic_opt.load_state_dict(state["critic_optimizer"])
