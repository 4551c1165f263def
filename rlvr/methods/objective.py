"""The policy's objective over a `TrainBatch`: the sum of the method's loss terms, computed
per micro-batch with the mini-batch's denominators, for `rlvr.optimise.optimise`.

`update_policy` runs it: `algo.epochs` passes over mini-batches (`algo.mini_batch_size` or
`algo.mini_batches`), each accumulated over `optim.micro_batch_size` rows.
"""
from __future__ import annotations

from functools import partial

from torch import Tensor

from rlvr.algos import REDUCE
from rlvr.algos.reduce import token_mean
from rlvr.batching import completion_logprobs, score
from rlvr.methods.base import TermInputs, TrainBatch
from rlvr.methods.terms import local_mean
from rlvr.optimise import ONE_PROCESS, Passes, optimise

BUDGETED_REDUCTIONS = frozenset({"seq_mean_token_sum_norm", "delta_l"})
"""Reductions normalised by a constant token budget; the trainer gives them
`budget = rollout.max_new_tokens` unless `algo.reduce_args` sets one (Dr. GRPO, ΔL)."""


def rollout_batch_size(cfg) -> int:
    """Sequences of a full rollout batch: prompts_per_step × group_size, plus one group per
    self-verified solution."""
    groups = cfg.rollout.prompts_per_step + (cfg.self_verify.solutions if cfg.self_verify.enabled else 0)
    return groups * cfg.rollout.group_size


def mini_batch_size(cfg) -> int:
    """Sequences per optimizer step, from `algo.mini_batch_size` or `algo.mini_batches`."""
    batch = rollout_batch_size(cfg)
    if cfg.algo.mini_batches:
        return batch // cfg.algo.mini_batches
    return cfg.algo.mini_batch_size or batch


def logprob_options(cfg) -> dict:
    return dict(temperature=cfg.rollout.temperature or 1.0, chunk_size=cfg.model.logprob_chunk,
                precision=cfg.model.autocast)


def on_policy(cfg, n_rows: int) -> bool:
    """One epoch over one mini-batch: π_old is the current policy, whose log-probs are the
    step's own, detached (ratio 1) — no extra forward pass needed."""
    return cfg.algo.epochs == 1 and min(mini_batch_size(cfg), n_rows) == n_rows


def score_old_and_ref(model, ref_model, train: TrainBatch, cfg) -> None:
    """Fill in what the terms need before the update: π_old's log-probs when the step is not
    on-policy, the reference model's when a term asks for them."""
    opts = dict(micro_batch_size=cfg.optim.micro_batch_size, **logprob_options(cfg))
    if train.old_logp is None and not on_policy(cfg, len(train.batch)) and any("old_logp" in t.needs
                                                                               for t in train.terms):
        train.old_logp = score(model, train.batch, **opts)
    if train.ref_logp is None and any("ref_logp" in t.needs for t in train.terms):
        train.ref_logp = score(ref_model, train.batch, **opts)


class PolicyObjective:
    name = "policy"
    grad_norm_key = "grad_norm"
    fill_missing_grads = True

    def __init__(self, model, train: TrainBatch, cfg) -> None:
        self.model, self.train, self.cfg = model, train, cfg
        a = cfg.algo
        batch = train.batch
        self.mask = batch.mask
        self.opts = logprob_options(cfg)
        # rows with zero advantage contribute exactly nothing when every term is linear in it
        self.skip_zero = not train.learns_at_zero_advantage
        # row selections index the CPU row numbers of `optimise`: made on the CPU, once a step
        self.active = train.advantages.reshape(len(batch), -1).ne(0).any(-1).cpu()
        self.in_loss = None if batch.row_weight is None else (batch.row_weight > 0).cpu()
        self.with_entropy = "grad" if any("entropy_grad" in t.needs for t in train.terms) else True
        budget = {"budget": cfg.rollout.max_new_tokens} if a.reduce in BUDGETED_REDUCTIONS else {}
        self.reduce_args = {**budget, **a.reduce_args}

    def begin(self, mb: Tensor) -> Tensor:
        batch = self.train.batch
        # rows removed from the loss (overlong filtering) leave the denominators too
        live = mb if self.in_loss is None else mb[self.in_loss[mb]]
        totals = dict(total_tokens=self.mask[mb].sum(), total_seqs=max(len(live), 1),
                      batch_lengths=self.mask[live].sum(-1))
        self.reduce = partial(REDUCE[self.cfg.algo.reduce], **self.reduce_args, **totals)
        self.entropy_mean = partial(token_mean, total_tokens=totals["total_tokens"])
        self.mb = mb
        return mb[self.active[mb]] if self.skip_zero else mb

    def micro(self, rows: Tensor) -> tuple[Tensor, dict, float]:
        train = self.train
        logp, entropy = completion_logprobs(self.model, train.batch, rows, **self.opts, with_entropy=self.with_entropy)
        m_rows = self.mask[rows]
        x = TermInputs(rows=rows, mini_batch=self.mb, logp=logp, entropy=entropy,
                       old_logp=logp.detach() if train.old_logp is None else train.old_logp[rows],
                       mask=m_rows, advantages=train.advantages[rows], reduce=self.reduce,
                       entropy_mean=self.entropy_mean, batch=train)
        loss, metrics = None, {}
        for term in train.terms:
            value, m = term(x)
            metrics.update(m)
            loss = value if loss is None else loss + value
        metrics["entropy"] = local_mean(entropy.detach(), m_rows)
        return loss, metrics, float(m_rows.sum())


def update_policy(model, train: TrainBatch, *, cfg, optimizer, scheduler, step: int,
                  parallel=ONE_PROCESS) -> dict[str, float]:
    """Every optimizer step of one rollout batch; returns the step's training metrics.
    `parallel` shares the rows among processes (`rlvr.distributed.DataParallel`); the
    denominators are always the whole mini-batch's, so N processes compute the same update."""
    a, o = cfg.algo, cfg.optim
    n = len(train.batch)
    passes = Passes(epochs=a.epochs, mini_size=min(mini_batch_size(cfg), n), micro_size=o.micro_batch_size,
                    grad_clip=o.grad_clip, seed=None if on_policy(cfg, n) else cfg.run.seed * 1_000_003)
    params = [p for p in model.parameters() if p.requires_grad]
    out = optimise(PolicyObjective(model, train, cfg), params=params, optimizer=optimizer, passes=passes,
                   n_rows=n, step=step, scheduler=scheduler, parallel=parallel)
    return {**out.metrics, "loss": out.mean_loss, "sequences_trained": out.rows_per_epoch}


__all__ = ["BUDGETED_REDUCTIONS", "PolicyObjective", "mini_batch_size", "on_policy", "rollout_batch_size",
           "score_old_and_ref", "update_policy"]
