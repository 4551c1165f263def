"""The loss terms methods sum (rlvr/methods/base.py: `LossTerm`).

    pg_coef · LOSSES[algo.loss](reduce = REDUCE[algo.reduce] over the mini-batch, weights = correction)
  + kl_coef · reduce(KL[algo.kl](π, π_ref))             (unless the KL is in the reward)
  − entropy_coef · token_mean(entropy)                  (entropy bonus; 1-shot RLVR)
  − Σ_rows answer_weight · ℓ                            (JEPO's supervised term)

Every denominator is the mini-batch's (bound in `TermInputs.reduce` / `entropy_mean`), so
accumulation over micro-batches is exact.
"""
from __future__ import annotations

from functools import partial
from typing import ClassVar

from torch import Tensor

from rlvr.algos import KL, LOSSES
from rlvr.algos.correction import CORRECTIONS
from rlvr.methods.answer_likelihood import answer_loglik
from rlvr.methods.base import TermInputs


def local_mean(values: Tensor, mask: Tensor) -> Tensor:
    """A metric's mean over this micro-batch's tokens (the tally weights it by tokens)."""
    return (values * mask).sum() / mask.sum().clamp(min=1)


def _weighted(values: Tensor, mask: Tensor, *, reduce, weights: Tensor) -> Tensor:
    """The correction's weights multiply each token's loss before it is reduced (TIS)."""
    return reduce(values * weights, mask)


class PolicyLoss:
    """pg_coef · LOSSES[loss] with the rollout correction's per-token weights. Every LOSSES
    entry is linear in the advantage (the contract suite checks it: zero loss and gradient
    at Â = 0)."""

    needs: ClassVar[frozenset[str]] = frozenset({"old_logp"})
    linear_in_advantage: ClassVar[bool] = True

    def __init__(self, loss: str, loss_args: dict, correction: str, correction_args: dict, coef: float) -> None:
        self.loss_fn = partial(LOSSES[loss], **loss_args)
        self.correction = partial(CORRECTIONS[correction], **correction_args)
        self.coef = coef

    def __call__(self, x: TermInputs) -> tuple[Tensor, dict]:
        weights, m = self.correction(x.old_logp, x.batch.batch.rollout_logp[x.rows], x.mask)
        pg, pg_m = self.loss_fn(x.logp, x.old_logp, x.advantages, x.mask,
                                reduce=partial(_weighted, reduce=x.reduce, weights=weights))
        m.update(pg_m)
        return self.coef * pg, m


class KLPenalty:
    """kl_coef · reduce(KL[estimator](π, π_ref)) — GRPO's placement of the KL (in the loss)."""

    needs: ClassVar[frozenset[str]] = frozenset({"ref_logp"})
    linear_in_advantage: ClassVar[bool] = False

    def __init__(self, estimator: str, coef: float) -> None:
        self.kl, self.coef = KL[estimator], coef

    def __call__(self, x: TermInputs) -> tuple[Tensor, dict]:
        kl = self.kl(x.logp, x.batch.ref_logp[x.rows])
        return self.coef * x.reduce(kl, x.mask), {"kl": local_mean(kl.detach(), x.mask)}


class EntropyBonus:
    """− entropy_coef · token_mean(entropy) (1-shot RLVR, arXiv 2504.20571)."""

    needs: ClassVar[frozenset[str]] = frozenset({"entropy_grad"})
    linear_in_advantage: ClassVar[bool] = False

    def __init__(self, coef: float) -> None:
        self.coef = coef

    def __call__(self, x: TermInputs) -> tuple[Tensor, dict]:
        return -(self.coef * x.entropy_mean(x.entropy, x.mask)), {}


class AnswerLikelihood:
    """JEPO's supervised term −Σ w·ℓ (arXiv 2503.19618 Eq. 9), scaled to the mini-batch's share
    of the batch."""

    needs: ClassVar[frozenset[str]] = frozenset({"answer_weights"})
    linear_in_advantage: ClassVar[bool] = False

    def __call__(self, x: TermInputs) -> tuple[Tensor, dict]:
        ell = answer_loglik(x.logp, x.batch.batch, x.rows)
        n = len(x.batch.batch)
        sup = -(x.batch.answer_weights[x.rows] * ell).sum() * (n / len(x.mini_batch))
        return sup, {"jepo/supervised_loss": sup.detach()}
