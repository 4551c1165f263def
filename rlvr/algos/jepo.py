"""JEPO — Jensen's Evidence lower bound Policy Optimization (Tang, Wang, Madaan, Munos,
arXiv 2503.19618, §3–4 and App. B).

The chain of thought c is a latent variable; the objective is the evidence
log π(a*|x) = log E_{c~π(·|x)} π(a*|x, c) of the reference answer a*, through a lower bound.
The "rewards" of a group are

    ell_i = log π(a* | x, c_i) = Σ_t log π(a*_t | x, c_i, a*_<t)

the teacher-forced log-likelihood of the reference answer after chain of thought c_i — summed,
never divided by |a*| (App. B: length normalisation changes the objective for long answers).
A sample whose chain of thought is ill-formatted has no answer slot and carries ell = −inf
(any non-finite value counts as invalid).

The gradient of the bound has two parts, both built from this module:
- a policy-gradient part on the chain-of-thought tokens, with advantages `jepo(ell)` — the
  `ADVANTAGES["jepo"]` entry, same signature as every estimator;
- a supervised part on the answer tokens, ∇ evidence = Σ_i w_i ∇ell_i with
  w = `jepo_answer_weights(ell)`; the trainer adds −β_sup · Σ_i w_i ell_i to the loss, which
  stays exact when a group is split over micro-batches because w is fixed beforehand.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

_BOUNDS = ("multi", "single")


def _check_bound(bound: str) -> None:
    if bound not in _BOUNDS:
        raise ValueError(f"bad value {bound!r} for the JEPO bound; allowed values: {', '.join(_BOUNDS)}")


def jepo(rewards: Tensor, *, bound: str = "multi", clip: float = 1.0, eps: float = 1e-6,
         invalid_advantage: float = -1.0) -> Tensor:
    """JEPO advantages `[P, G]` from ell = `rewards` `[P, G]`, among the n valid members of
    each group, with leave-one-out baselines (the bound over the other n − 1 samples):

        multi  (the tighter multi-sample bound, the default):
            A_i = [logsumexp(ell) − log n] − [logsumexp(ell_{−i}) − log(n − 1)]
        single (Jensen's single-sample bound):
            A_i = ell_i − mean_{j≠i} ell_j

    then A ← clip(A / (std(A) + eps), −clip, clip), std unbiased over the valid members
    (App. B: raw advantages span a wide range; normalising and clipping matters).

    Invalid members get `invalid_advantage`: our realisation of the paper's format penalty
    (it gives a reward of −p to generations without the answer marker); with clip = 1, the
    default −1 equals the most negative advantage a valid sample can get, no more. A
    group with fewer than 2 valid members, or whose valid members share one ell, has no
    baseline or no spread: its valid members get 0.

    Detached; computed in float64 with a G×G leave-one-out logsumexp, which stays exact for
    ell ≈ −500 where exp(ell) underflows and log(Σ − exp(ell_i)) would cancel.
    """
    _check_bound(bound)
    ell = rewards.detach().to(torch.float64)
    valid = torch.isfinite(ell)
    n = valid.sum(dim=1, keepdim=True).to(torch.float64)
    neg_inf = torch.tensor(-math.inf, dtype=torch.float64, device=ell.device)
    if bound == "multi":
        x = torch.where(valid, ell, neg_inf)
        eye = torch.eye(x.shape[1], dtype=torch.bool, device=x.device)
        without_i = x.unsqueeze(1).masked_fill(eye, -math.inf)  # [P, i, j]: group minus member i
        whole = torch.logsumexp(x, dim=1, keepdim=True) - torch.log(n.clamp(min=1))
        adv = whole - (torch.logsumexp(without_i, dim=2) - torch.log((n - 1).clamp(min=1)))
    else:
        x = torch.where(valid, ell, torch.zeros_like(ell))
        adv = x - (x.sum(dim=1, keepdim=True) - x) / (n - 1).clamp(min=1)
    hi = torch.where(valid, ell, neg_inf).amax(dim=1, keepdim=True)
    lo = torch.where(valid, ell, -neg_inf).amin(dim=1, keepdim=True)
    # equal ell: A is 0 up to rounding noise, which the std division would blow up
    usable = valid & (n >= 2) & (hi > lo)
    adv = torch.where(usable, adv, torch.zeros_like(adv))
    mean = adv.sum(dim=1, keepdim=True) / n.clamp(min=1)
    dev = torch.where(usable, adv - mean, torch.zeros_like(adv))
    var = (dev ** 2).sum(dim=1, keepdim=True) / (n - 1).clamp(min=1)
    adv = torch.clamp(adv / (var.sqrt() + eps), -clip, clip)
    adv = torch.where(valid, adv, torch.full_like(adv, invalid_advantage))
    return adv.to(rewards.dtype)


def jepo_evidence(ell: Tensor, *, bound: str = "multi") -> Tensor:
    """The bound's value per prompt `[P]` (differentiable in ell): logsumexp(ell) − log n over
    the valid members (multi-sample bound) or their mean (single-sample, Jensen's bound; never
    above the multi-sample one); −inf for a group without valid members. Its negative with
    n = 4 samples is the paper's proxy NLL for evaluation."""
    _check_bound(bound)
    valid = torch.isfinite(ell)
    n = valid.sum(dim=1).to(ell.dtype)
    if bound == "multi":
        value = torch.logsumexp(torch.where(valid, ell, torch.full_like(ell, -math.inf)), dim=1)
        value = value - torch.log(n.clamp(min=1))
    else:
        value = torch.where(valid, ell, torch.zeros_like(ell)).sum(dim=1) / n.clamp(min=1)
    return torch.where(n > 0, value, torch.full_like(value, -math.inf))


def jepo_answer_weights(ell: Tensor, *, bound: str = "multi") -> Tensor:
    """Detached weights w `[P, G]` with ∇ evidence_p = Σ_i w_{p,i} ∇ell_{p,i}: the softmax of
    ell over the valid members (multi-sample bound — the answer is learnt mostly after the
    chains of thought that already explain it), 1/n (single-sample bound), 0 for invalid
    members; each row with a valid member sums to 1."""
    _check_bound(bound)
    ell = ell.detach()
    valid = torch.isfinite(ell)
    if bound == "multi":
        w = torch.softmax(torch.where(valid, ell, torch.full_like(ell, -math.inf)), dim=1)
    else:
        w = valid.to(ell.dtype) / valid.sum(dim=1, keepdim=True).clamp(min=1).to(ell.dtype)
    return torch.where(valid, w, torch.zeros_like(w))  # an all-invalid row's softmax is NaN
