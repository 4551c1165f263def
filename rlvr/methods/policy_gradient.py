"""`policy_gradient`: every combination of ADVANTAGES × LOSSES × REDUCE × KL × CORRECTIONS ×
GFPO filters × entropy bonus, trained on group rewards (GRPO, Dr. GRPO, DAPO, GSPO, GMPO,
GFPO, ΔL, RLOO, REINFORCE++, ReMax, BRPO, 1-shot RLVR; docs/algorithms/).

Advantages come from each group's rewards (`algo.advantage`), after GFPO's filter if set;
with `algo.kl_in_reward`, −β·Σ_{s≥t} KL_s is added per token (KL-to-go). The loss is the sum of
`terms()`. Where this deviates from the GRPO paper (arXiv 2402.03300), on purpose:
- The KL penalty is off by default (β = 0, as in TRL and Dr. GRPO); set `algo.kl_coef` to load
  a frozen reference model and add β·KL to the loss, the paper's placement.
- Sequences whose advantage is zero (groups with equal rewards) skip their forward and
  backward passes when every loss term is linear in the advantage: their contribution is
  exactly zero, and the denominators still count them.
"""
from __future__ import annotations

import copy
from functools import partial
from typing import Callable, ClassVar

import torch
from torch import Tensor

from rlvr.algos import ADVANTAGES, KL
from rlvr.algos.advantages import dr_grpo
from rlvr.algos.filters import GROUP_FILTERS, adaptive_keep, filtered_advantages
from rlvr.algos.gae import kl_return_to_go, whiten
from rlvr.batching import RolloutBatch, collate, score
from rlvr.configtools import ConfigError
from rlvr.devices import model_device
from rlvr.methods.base import TrainBatch
from rlvr.methods.objective import logprob_options, score_old_and_ref
from rlvr.methods.terms import EntropyBonus, KLPenalty, PolicyLoss
from rlvr.samplers.base import Rollout

ADVANTAGE_INPUTS: dict[str, tuple[str, ...]] = {"remax": ("greedy_rewards",)}
"""Inputs an estimator takes beyond the rewards, by name; the sampler provides each as the
`Rollout` field of that name (ReMax: a greedy completion's reward per prompt)."""
GROUP_RELATIVE = frozenset({"grpo", "dr_grpo", "rloo", "reinforce_pp_baseline", "jepo"})
"""Estimators that compare the completions of a group: a group of one gets 0 (refused with
`rollout.group_size: 1`)."""
TOKEN_WHITENED: dict[str, Callable[[Tensor], Tensor]] = {"reinforce_pp": lambda r: r,
                                                        "reinforce_pp_baseline": dr_grpo}
"""REINFORCE++ with `algo.whiten_over: tokens` (arXiv 2501.03262 Eq. 8–10, OpenRLHF's
`reinforce` / `reinforce_baseline`): each token's return is the sequence's value here (the
reward; the group-centred reward for the baseline variant) minus β·Σ_{s≥t} KL_s, and the
returns are whitened over every token of the batch — long sequences weigh by their length."""


class DifficultyHistory:
    """Mean rewards of the prompts seen so far, for adaptive-difficulty GFPO's quartiles
    (the paper keeps a t-digest; an exact list is small at our scale). Checkpointed."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def state_dict(self) -> dict:
        return {"values": list(self.values)}

    def load_state_dict(self, state: dict) -> None:
        self.values = list(state["values"])


def sequence_advantages(cfg, rewards: Tensor, lengths: Tensor, *, inputs: dict,
                        history: DifficultyHistory) -> tuple[Tensor, dict[str, float]]:
    """[P, G] advantages from the group rewards: `algo.advantage` (given its declared
    `inputs`), after GFPO's filter if set."""
    a = cfg.algo
    bound = partial(ADVANTAGES[a.advantage], **a.advantage_args, **inputs)
    if a.filter == "none":
        return bound(rewards), {}
    P = rewards.shape[0]
    keep = torch.full((P,), a.filter_keep, dtype=torch.long, device=rewards.device)
    if a.filter_adaptive_keep:
        means = rewards.mean(1)
        keep = adaptive_keep(means, torch.tensor(history.values, dtype=torch.float32, device=rewards.device),
                             keeps=tuple(a.filter_adaptive_keep))
        history.values.extend(float(m) for m in means)
    kept = GROUP_FILTERS[a.filter](rewards, lengths, keep)
    return filtered_advantages(bound, rewards, kept), {"filter/kept_frac": float(kept.float().mean()),
                                                       "filter/keep_mean": float(keep.float().mean())}


def add_kl_to_go(advantages: Tensor, kl: Tensor, mask: Tensor, coef: float) -> Tensor:
    """KL-in-reward for sequence advantages: Â_{i,t} = Â_i − β Σ_{s≥t} kl_{i,s} ([N] → [N, C])."""
    return advantages.unsqueeze(-1) * mask + kl_return_to_go(kl, mask, coef=coef)


class PolicyGradient:
    advantages: ClassVar[tuple[str, ...]] = ("grpo", "dr_grpo", "rloo", "reinforce_pp", "reinforce_pp_baseline",
                                             "remax", "raw")
    rewards_from_verifiers: ClassVar[bool] = True

    def __init__(self, cfg, model, tokenizer) -> None:
        self.cfg, self.model, self.tokenizer = cfg, model, tokenizer
        self.device = model_device(model)  # every tensor of the step goes where the model is
        self.ref_model = None
        if cfg.algo.kl_coef > 0:  # frozen copy of the initial policy, on its device
            self.ref_model = copy.deepcopy(model).eval().requires_grad_(False)
        self.history = DifficultyHistory()

    # -- configuration ---------------------------------------------------------------------
    @staticmethod
    def check_config(cfg) -> None:
        a, G = cfg.algo, cfg.rollout.group_size
        if a.filter != "none":
            keeps = [a.filter_keep, *a.filter_adaptive_keep]
            if not all(1 <= k < G for k in keeps):
                raise ConfigError(f"'algo.filter_keep' and 'algo.filter_adaptive_keep' must be between 1 and "
                                  f"rollout.group_size − 1 ({G - 1}) when 'algo.filter' is set; got {keeps}")
            if a.filter_adaptive_keep and len(a.filter_adaptive_keep) != 4:
                raise ConfigError("'algo.filter_adaptive_keep' needs four values (one per reward quartile)")
            if a.advantage in ADVANTAGE_INPUTS:
                raise ConfigError(f"'algo.filter' ({a.filter}) needs an advantage computed from a group's rewards "
                                  f"alone; '{a.advantage}' is not (allowed with a filter: " + ", ".join(
                                      n for n in PolicyGradient.advantages if n not in ADVANTAGE_INPUTS) + ")")
        if a.filter != "none" and a.advantage in TOKEN_WHITENED and a.whiten_over == "tokens":
            raise ConfigError(f"'algo.filter' keeps some responses of each group; '{a.advantage}' with "
                              "'algo.whiten_over: tokens' whitens over every token of the batch — set "
                              "'algo.whiten_over: sequences' to filter")
        if G < 2 and a.advantage in GROUP_RELATIVE:
            raise ConfigError(f"'rollout.group_size' is {G}, but 'algo.advantage' {a.advantage} compares the "
                              "completions of a group: every advantage would be 0. Use group_size ≥ 2, or an "
                              "advantage that needs no group (" + ", ".join(
                                  n for n in sorted(PolicyGradient.advantages) if n not in GROUP_RELATIVE) + ", gae)")

    @staticmethod
    def needs_greedy_rewards(cfg) -> bool:
        return "greedy_rewards" in ADVANTAGE_INPUTS.get(cfg.algo.advantage, ())

    # -- a step --------------------------------------------------------------------------
    def terms(self) -> list:
        a = self.cfg.algo
        terms = [PolicyLoss(a.loss, a.loss_args, a.correction, a.correction_args, a.pg_coef)]
        if a.kl_coef > 0 and not a.kl_in_reward:
            terms.append(KLPenalty(a.kl, a.kl_coef))
        if a.entropy_coef:
            terms.append(EntropyBonus(a.entropy_coef))
        return terms

    def batch_of(self, rollout: Rollout) -> tuple[RolloutBatch, Tensor, dict, Tensor | None]:
        """(the padded batch, the rewards the advantages come from, metrics, per-row weights of
        a supervised term or None)."""
        return collate(rollout.prompts, rollout.completions, self.tokenizer.pad_token_id,
                       policy_mask=rollout.policy_mask, device=self.device), rollout.rewards.to(self.device), {}, None

    def advantages_of(self, rollout: Rollout, rewards: Tensor, batch: RolloutBatch,
                      kl: Tensor | None) -> tuple[Tensor, dict, dict]:
        """(advantages, what `after_update` needs, metrics)."""
        a = self.cfg.algo
        if a.advantage in TOKEN_WHITENED and a.whiten_over == "tokens":
            returns = TOKEN_WHITENED[a.advantage](rewards).reshape(-1).unsqueeze(-1) * batch.mask
            if kl is not None:
                returns = returns + kl_return_to_go(kl, batch.mask, coef=a.kl_coef)
            return whiten(returns, batch.mask, eps=a.advantage_args.get("eps", 1e-6)), {}, {}
        lengths = torch.tensor([len(c.token_ids) for c in rollout.completions], device=rewards.device).view_as(rewards)
        inputs = {name: getattr(rollout, name).to(rewards.device)  # a sampler's tensors are on the CPU
                  for name in ADVANTAGE_INPUTS.get(self.cfg.algo.advantage, ())}
        seq_adv, metrics = sequence_advantages(self.cfg, rewards, lengths, inputs=inputs, history=self.history)
        advantages = seq_adv.reshape(-1)
        if kl is not None:
            advantages = add_kl_to_go(advantages, kl, batch.mask, self.cfg.algo.kl_coef)
        return advantages, {}, metrics

    def prepare(self, rollout: Rollout, *, step: int) -> TrainBatch:
        cfg, a = self.cfg, self.cfg.algo
        batch, rewards, metrics, answer_weights = self.batch_of(rollout)
        if a.mask_truncated:  # DAPO's overlong filtering
            batch.row_weight = torch.tensor([c.finish_reason != "length" for c in rollout.completions],
                                            dtype=torch.float32, device=batch.device)
        old_logp = ref_logp = kl = None
        if a.kl_in_reward:  # KL on the reward needs π_old and π_ref before the update
            opts = dict(micro_batch_size=cfg.optim.micro_batch_size, **logprob_options(cfg))
            old_logp = score(self.model, batch, **opts)
            ref_logp = score(self.ref_model, batch, **opts)
            kl = KL[a.kl](old_logp, ref_logp) * batch.mask
            metrics["kl"] = float(kl.sum() / batch.mask.sum().clamp(min=1))
        advantages, extra, adv_metrics = self.advantages_of(rollout, rewards, batch, kl)
        metrics.update(adv_metrics)
        train = TrainBatch(batch, advantages, rewards, self.terms(), old_logp=old_logp, ref_logp=ref_logp,
                           answer_weights=answer_weights, extra=extra, metrics=metrics)
        score_old_and_ref(self.model, self.ref_model, train, cfg)
        return train

    def after_update(self, train: TrainBatch, *, step: int) -> dict[str, float]:
        return {}

    # -- exact resume --------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"difficulty": self.history.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.history.load_state_dict(state.get("difficulty", {"values": []}))
