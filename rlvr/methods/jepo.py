"""`jepo`: Jensen's Evidence lower bound Policy Optimisation (Tang et al., arXiv 2503.19618).

A chain of thought c_i is scored by the teacher-forced log-likelihood of the reference answer
after it, ℓ_i = log π(a* | x, c_i) (`methods/answer_likelihood.py` builds the batch); the
advantages come from the ℓ's by the `jepo` estimator (leave-one-out bounds,
`rlvr/algos/jepo.py`), and a supervised term raises ℓ itself with the bound's weights. No
verifier reward is used. docs/algorithms/jepo.md maps the paper to this file.
"""
from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from rlvr.algos.jepo import jepo_answer_weights, jepo_evidence
from rlvr.batching import RolloutBatch
from rlvr.configtools import ConfigError
from rlvr.methods.answer_likelihood import jepo_batch, score_answers
from rlvr.methods.objective import logprob_options
from rlvr.methods.policy_gradient import PolicyGradient
from rlvr.methods.terms import AnswerLikelihood, PolicyLoss
from rlvr.samplers.base import Rollout


class JEPO(PolicyGradient):
    advantages: ClassVar[tuple[str, ...]] = ("jepo",)
    rewards_from_verifiers: ClassVar[bool] = False

    @staticmethod
    def check_config(cfg) -> None:
        if cfg.algo.reduce != "seq_mean_token_sum":
            raise ConfigError(f"'algo.reduce' is {cfg.algo.reduce!r}; JEPO's estimator (arXiv 2503.19618 Eq. 7) "
                              "sums log π over each chain of thought's tokens: set 'algo.reduce: "
                              "seq_mean_token_sum' (the jepo preset does)")
        if cfg.rollout.dynamic_sampling:
            raise ConfigError("'rollout.dynamic_sampling' filters groups by verifier rewards, which JEPO "
                              "('algo.advantage: jepo') does not train on; turn one of them off")
        if cfg.algo.filter != "none":
            raise ConfigError(f"'algo.filter' ({cfg.algo.filter}) needs an advantage computed from a group's "
                              "rewards alone; 'jepo' is not (allowed with a filter: "
                              + ", ".join(n for n in PolicyGradient.advantages if n != "remax") + ")")
        PolicyGradient.check_config(cfg)

    @staticmethod
    def needs_greedy_rewards(cfg) -> bool:
        return False

    def terms(self) -> list:
        """The estimator's gradient per prompt (arXiv 2503.19618, §3–4; docs/algorithms/jepo.md):

            multi:  Σ_i A_i ∇log π(c_i|x) + Σ_i w_i ∇ℓ_i      (w = softmax ℓ)
            single: (1/n) Σ_i A_i ∇log π(c_i|x) + (1/n) Σ_i ∇ℓ_i

        averaged over the P prompts. `seq_mean_token_sum` gives (1/(P·n)) Σ_i Σ_t, the single
        bound's policy-gradient weight; the multi-sample bound's has no 1/n, so its policy loss
        is scaled by n = G. The supervised term carries β_sup·w/P (`batch_of`)."""
        a = self.cfg.algo
        scale = self.cfg.rollout.group_size if a.advantage_args.get("bound", "multi") == "multi" else 1
        _, *others = super().terms()  # the policy loss is rebuilt with the estimator's scale
        return [PolicyLoss(a.loss, a.loss_args, a.correction, a.correction_args, a.pg_coef * scale),
                *others, AnswerLikelihood()]

    def batch_of(self, rollout: Rollout) -> tuple[RolloutBatch, Tensor, dict, Tensor | None]:
        """Each chain of thought continued by the reference answer; JEPO's "reward" is ℓ."""
        cfg = self.cfg
        batch, valid = jepo_batch(self.tokenizer, rollout.samples, rollout.prompts, rollout.completions,
                                  marker=cfg.jepo.marker, answer_prefix=cfg.jepo.answer_prefix, device=self.device)
        ell = score_answers(self.model, batch, valid, micro_batch_size=cfg.optim.micro_batch_size,
                            **logprob_options(cfg)).view(-1, cfg.rollout.group_size)
        bound = cfg.algo.advantage_args.get("bound", "multi")  # the bound the advantages use
        weights = (cfg.jepo.beta_sup * jepo_answer_weights(ell, bound=bound) / len(ell)).reshape(-1)
        evidence = jepo_evidence(ell, bound=bound)
        return batch, ell, {"jepo/evidence": float(evidence[evidence.isfinite()].mean()),
                            "jepo/valid_frac": float(valid.float().mean())}, weights
