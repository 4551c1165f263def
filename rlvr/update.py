"""Stages 4–5 of a step: advantages, then the optimisation of the policy (and critic).

`policy_update` runs `algo.epochs` passes over mini-batches, each accumulated over
micro-batches. The loss of a micro-batch is

    pg_coef · LOSSES[algo.loss](reduce = REDUCE[algo.reduce] over the mini-batch, weights = correction)
  + kl_coef · reduce(KL[algo.kl])                       (unless the KL is in the reward)
  − entropy_coef · token_mean(entropy)                  (entropy bonus; 1-shot RLVR)
  − Σ_rows answer_weight · ℓ                            (JEPO's supervised term)

and every denominator is the mini-batch's, so accumulation over micro-batches is exact.
"""
from __future__ import annotations

import inspect
import math
from collections import defaultdict
from functools import partial

import torch
from torch import Tensor

from rlvr.algos import ADVANTAGES, KL, LOSSES, REDUCE
from rlvr.algos.correction import CORRECTIONS
from rlvr.algos.filters import GROUP_FILTERS, adaptive_keep, filtered_advantages
from rlvr.algos.gae import TOKEN_ADVANTAGES, VALUE_LOSSES, kl_return_to_go, outcome_token_rewards, whiten
from rlvr.algos.reduce import token_mean
from rlvr.answer_likelihood import answer_loglik
from rlvr.batching import RolloutBatch, completion_logprobs, score
from rlvr.critic import completion_values
from rlvr.config import Config, mini_batch_size


class NonFiniteError(RuntimeError):
    """A loss or gradient became NaN or infinite: the run stops before the optimizer step, so
    no NaN reaches the weights or a checkpoint (issue 9 item 8)."""


def check_finite(step: int, what: str, value: float) -> None:
    if not math.isfinite(value):
        raise NonFiniteError(f"step {step}: the {what} is {value}; the optimizer step was not taken and the "
                             "weights are unchanged by it (lower optim.lr, or check the rewards and data)")


# ---------------------------------------------------------------------------- advantages
class DifficultyHistory:
    """Mean rewards of the prompts seen so far, for adaptive-difficulty GFPO's quartiles
    (the paper keeps a t-digest; an exact list is small at our scale). Checkpointed."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def state_dict(self) -> dict:
        return {"values": list(self.values)}

    def load_state_dict(self, state: dict) -> None:
        self.values = list(state["values"])


def sequence_advantages(cfg: Config, rewards: Tensor, lengths: Tensor, *, greedy_rewards: Tensor | None,
                        history: DifficultyHistory) -> tuple[Tensor, dict[str, float]]:
    """[P, G] advantages from the group rewards: `algo.advantage`, after GFPO's filter if set."""
    a = cfg.algo
    fn = ADVANTAGES[a.advantage]
    bound = partial(fn, **a.advantage_args)
    if getattr(fn, "needs_greedy_rewards", False):
        bound = partial(bound, greedy_rewards=greedy_rewards)
    if a.filter == "none":
        return bound(rewards), {}
    P = rewards.shape[0]
    keep = torch.full((P,), a.filter_keep, dtype=torch.long)
    if a.filter_adaptive_keep:
        means = rewards.mean(1)
        keep = adaptive_keep(means, torch.tensor(history.values, dtype=torch.float32),
                             keeps=tuple(a.filter_adaptive_keep))
        history.values.extend(float(m) for m in means)
    kept = GROUP_FILTERS[a.filter](rewards, lengths, keep)
    return filtered_advantages(bound, rewards, kept), {"filter/kept_frac": float(kept.float().mean()),
                                                       "filter/keep_mean": float(keep.float().mean())}


def token_advantages(cfg: Config, rewards: Tensor, mask: Tensor, values: Tensor,
                     kl: Tensor | None) -> tuple[Tensor, Tensor]:
    """PPO with a critic: (advantages, returns), both [N, C], from GAE over token rewards —
    the outcome reward on the last token, minus β·KL on every token with `kl_in_reward`."""
    token_rewards = outcome_token_rewards(rewards.reshape(-1), mask)
    if kl is not None:
        token_rewards = token_rewards - cfg.algo.kl_coef * kl * mask
    adv, returns = TOKEN_ADVANTAGES[cfg.algo.advantage](token_rewards, values, mask, **cfg.algo.advantage_args)
    if cfg.critic.whiten_advantages:
        adv = whiten(adv, mask)  # padding stays 0
    return adv, returns


def add_kl_to_go(advantages: Tensor, kl: Tensor, mask: Tensor, coef: float) -> Tensor:
    """KL-in-reward for sequence advantages: Â_{i,t} = Â_i − β Σ_{s≥t} kl_{i,s} ([N] → [N, C])."""
    return advantages.unsqueeze(-1) * mask + kl_return_to_go(kl, mask, coef=coef)


# ---------------------------------------------------------------------------- the update
def policy_update(model, ref_model, batch: RolloutBatch, advantages: Tensor, *, cfg: Config,
                  optimizer, scheduler, step: int, old_logp: Tensor | None = None,
                  ref_logp: Tensor | None = None, answer_weights: Tensor | None = None) -> dict[str, float]:
    """All optimizer steps of one rollout batch: `algo.epochs` passes over mini-batches,
    each accumulated over micro-batches. `advantages`: [N] or [N, C]. `old_logp` / `ref_logp`
    may be given when already scored; `answer_weights` [N] switch on JEPO's supervised term."""
    a, o = cfg.algo, cfg.optim
    loss_fn = partial(LOSSES[a.loss], **a.loss_args)
    correction = partial(CORRECTIONS[a.correction], **a.correction_args)
    N, mask = len(batch), batch.mask
    opts = dict(temperature=cfg.rollout.temperature or 1.0, chunk_size=cfg.model.logprob_chunk,
                precision=cfg.model.autocast)
    mini = min(mini_batch_size(cfg), N)
    # With one epoch over one mini-batch, π_old is the current policy: its log-probs are the
    # current ones, detached (ratio 1) — no extra forward pass needed.
    on_policy = a.epochs == 1 and mini == N
    if old_logp is None and not on_policy:
        old_logp = score(model, batch, micro_batch_size=o.micro_batch_size, **opts)
    kl_in_loss = a.kl_coef > 0 and not a.kl_in_reward
    if kl_in_loss and ref_logp is None:
        ref_logp = score(ref_model, batch, micro_batch_size=o.micro_batch_size, **opts)
    # Rows with zero advantage contribute exactly nothing when every term is linear in it.
    skip_zero = (getattr(LOSSES[a.loss], "linear_in_advantage", False) and not kl_in_loss
                 and a.entropy_coef == 0 and answer_weights is None)
    active = advantages.reshape(N, -1).ne(0).any(-1)
    params = [p for p in model.parameters() if p.requires_grad]
    budget = {"budget": cfg.rollout.max_new_tokens} if _takes(REDUCE[a.reduce], "budget") else {}
    tally = Tally()
    n_steps, trained, loss_sum = 0, 0, 0.0
    for epoch in range(a.epochs):
        order = torch.arange(N)
        if not on_policy:  # seeded by (seed, step, epoch): a resumed run draws the same order
            order = torch.randperm(N, generator=torch.Generator().manual_seed(
                cfg.run.seed * 1_000_003 + step * 1009 + epoch))
        for mb in order.split(mini):
            # rows removed from the loss (overlong filtering) leave the denominators too
            live = mb if batch.row_weight is None else mb[batch.row_weight[mb] > 0]
            totals = dict(total_tokens=mask[mb].sum(), total_seqs=max(len(live), 1),
                          batch_lengths=mask[live].sum(-1))
            reduce = partial(REDUCE[a.reduce], **{**budget, **a.reduce_args}, **totals)
            entropy_mean = partial(token_mean, total_tokens=totals["total_tokens"])
            rows_to_run = mb[active[mb]] if skip_zero else mb
            optimizer.zero_grad(set_to_none=True)
            trained += len(rows_to_run)
            mini_loss = 0.0
            for rows in rows_to_run.split(o.micro_batch_size) if len(rows_to_run) else ():
                logp, entropy = completion_logprobs(model, batch, rows, **opts,
                                                    with_entropy="grad" if a.entropy_coef else True)
                old = logp.detach() if old_logp is None else old_logp[rows]
                m_rows = mask[rows]
                weights, m = correction(old, batch.rollout_logp[rows], m_rows)
                weighted = partial(_weighted, reduce=reduce, weights=weights)
                pg, pg_m = loss_fn(logp, old, advantages[rows], m_rows, reduce=weighted)
                m.update(pg_m)
                loss = a.pg_coef * pg
                if kl_in_loss:
                    kl = KL[a.kl](logp, ref_logp[rows])
                    loss = loss + a.kl_coef * reduce(kl, m_rows)
                    m["kl"] = _local_mean(kl.detach(), m_rows)
                if a.entropy_coef:
                    loss = loss - a.entropy_coef * entropy_mean(entropy, m_rows)
                m["entropy"] = _local_mean(entropy.detach(), m_rows)
                if answer_weights is not None:  # JEPO: −Σ w·ℓ, scaled to this mini-batch's share
                    ell = answer_loglik(logp, batch, rows)
                    sup = -(answer_weights[rows] * ell).sum() * (N / len(mb))
                    loss = loss + sup
                    m["jepo/supervised_loss"] = sup.detach()
                loss.backward()
                tokens = float(m_rows.sum())
                mini_loss += float(loss.detach())  # micro-batch losses add up to the mini-batch's
                for k, v in m.items():
                    tally.add(k, float(v), tokens)
            for p in params:  # a skipped row is a zero gradient; Adam must still see a zero
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
            grad_norm = torch.nn.utils.clip_grad_norm_(params, o.grad_clip if o.grad_clip > 0 else math.inf)
            check_finite(step, "policy loss", mini_loss)
            check_finite(step, "policy gradient norm", float(grad_norm))
            loss_sum += mini_loss
            tally.add("grad_norm", float(grad_norm), 1.0)
            tally.last["lr"] = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            n_steps += 1
    return {**tally.result(), "loss": loss_sum / n_steps, "sequences_trained": trained / a.epochs}


def critic_update(critic, batch: RolloutBatch, returns: Tensor, old_values: Tensor, *, cfg: Config,
                  optimizer, step: int) -> dict[str, float]:
    """The value model's steps on one rollout batch: the same epochs and mini-batches as the
    policy, clipped value loss (PPO, arXiv 1707.06347 §5), token-mean over the mini-batch."""
    a, o = cfg.algo, cfg.optim
    N, mask = len(batch), batch.mask
    mini = min(mini_batch_size(cfg), N)
    loss_fn = partial(VALUE_LOSSES["clipped_mse"], clip=cfg.critic.value_clip)
    params = [p for p in critic.parameters() if p.requires_grad]
    tally = Tally()
    for epoch in range(a.epochs):
        order = torch.randperm(N, generator=torch.Generator().manual_seed(
            cfg.run.seed * 2_000_003 + step * 1009 + epoch))
        for mb in order.split(mini):
            reduce = partial(token_mean, total_tokens=mask[mb].sum())
            optimizer.zero_grad(set_to_none=True)
            for rows in mb.split(o.micro_batch_size):
                values = completion_values(critic, batch, rows, precision=cfg.model.autocast)
                loss, m = loss_fn(values, old_values[rows], returns[rows], mask[rows], reduce=reduce)
                loss.backward()
                for k, v in {**m, "value/loss": loss.detach()}.items():
                    tally.add(k, float(v), float(mask[rows].sum()))
            grad_norm = torch.nn.utils.clip_grad_norm_(params, o.grad_clip if o.grad_clip > 0 else math.inf)
            check_finite(step, "value gradient norm", float(grad_norm))
            tally.add("value/grad_norm", float(grad_norm), 1.0)
            optimizer.step()
    return tally.result()


def _local_mean(values: Tensor, mask: Tensor) -> Tensor:
    """A metric's mean over this micro-batch's tokens (the tally weights it by tokens)."""
    return (values * mask).sum() / mask.sum().clamp(min=1)


def _weighted(values: Tensor, mask: Tensor, *, reduce, weights: Tensor) -> Tensor:
    """The correction's weights multiply each token's loss before it is reduced (TIS)."""
    return reduce(values * weights, mask)


def _takes(fn, name: str) -> bool:
    return name in inspect.signature(fn).parameters


class Tally:
    """Step metrics from many micro-batches: names ending in `_max` keep their maximum, the
    rest a weighted mean; `last` holds values where only the latest counts (the lr)."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = defaultdict(float)
        self.weights: dict[str, float] = defaultdict(float)
        self.maxima: dict[str, float] = {}
        self.last: dict[str, float] = {}

    def add(self, key: str, value: float, weight: float) -> None:
        if key.endswith("_max"):
            self.maxima[key] = max(self.maxima.get(key, -math.inf), value)
        else:
            self.sums[key] += value * weight
            self.weights[key] += weight

    def result(self) -> dict[str, float]:
        means = {k: v / self.weights[k] for k, v in self.sums.items() if self.weights[k] > 0}
        return {**means, **self.maxima, **self.last}
