"""The trainer's update: gradient accumulation is exact, skipped rows change nothing."""
import copy

import pytest
import torch

from rlvr.algos import LOSSES, REDUCE
from rlvr.batching import collate
from rlvr.config import load_config
from rlvr.models import tiny_model
from rlvr.rollout.base import SamplingParams
from rlvr.rollout.hf import HFEngine
from rlvr.methods import PolicyGradient, TrainBatch, update_policy
from rlvr.methods.objective import score_old_and_ref
from rlvr.methods.terms import AnswerLikelihood


def policy_update(model, ref_model, batch, advantages, *, cfg, optimizer, scheduler, step, old_logp=None,
                  answer_weights=None):
    """The method's terms over a hand-made batch, through the shared optimisation."""
    terms = PolicyGradient(cfg, model, None).terms() + ([AnswerLikelihood()] if answer_weights is not None else [])
    train = TrainBatch(batch, advantages, torch.zeros(0), terms, old_logp=old_logp, answer_weights=answer_weights)
    score_old_and_ref(model, ref_model, train, cfg)
    return update_policy(model, train, cfg=cfg, optimizer=optimizer, scheduler=scheduler, step=step)


@pytest.fixture(scope="module")
def rollout():
    model, tok = tiny_model(0)
    prompts = [tok(p).input_ids for p in ("1+1=", "a longer prompt here", "x")]
    # unequal completion lengths make the reductions differ (and padding matter)
    comps = HFEngine(model, tok, seed=0).generate(prompts, 4, SamplingParams(max_new_tokens=9))
    batch = collate(prompts, comps, tok.pad_token_id)
    adv = torch.tensor([1.0, -1.0, 0.5, -0.5, 0.0, 0.0, 0.0, 0.0, 2.0, -1.0, 0.0, -1.0])
    return model, batch, adv


def _update(model, batch, adv, overrides, **kw):
    model = copy.deepcopy(model)
    cfg = load_config(None, {"model": {"path": "tiny"}, "rollout": {"prompts_per_step": 3, "group_size": 4},
                             "optim": {"lr": 1e-2, "grad_clip": 0.0}, **overrides})
    # plain SGD: the update is linear in the gradient, so equal updates mean equal gradients
    # (Adam's first step is ≈ lr·sign(g) and would magnify rounding of near-zero gradients)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.optim.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    metrics = policy_update(model, None, batch, adv, cfg=cfg, optimizer=opt, scheduler=sched, step=1, **kw)
    return model, metrics


@pytest.mark.parametrize("reduce", sorted(REDUCE))
def test_micro_batch_1x_accumulation_equals_one_big_micro_batch(rollout, reduce):
    model, batch, adv = rollout
    algo = {"algo": {"reduce": reduce}}
    a, ma = _update(model, batch, adv, {**algo, "optim": {"lr": 1e-2, "grad_clip": 0.0, "micro_batch_size": 1}})
    b, mb = _update(model, batch, adv, {**algo, "optim": {"lr": 1e-2, "grad_clip": 0.0, "micro_batch_size": 12}})
    assert abs(ma["grad_norm"] - mb["grad_norm"]) < 1e-6 * max(1.0, mb["grad_norm"])
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.allclose(p, q, atol=1e-6, rtol=0)


def test_zero_advantage_rows_are_skipped_without_changing_the_update(rollout):
    model, batch, adv = rollout
    skipped, m = _update(model, batch, adv, {})
    assert m["sequences_trained"] == int((adv != 0).sum())  # 7 of 12
    # the same update computed by hand with every row present: the zero rows add exactly nothing
    forced = copy.deepcopy(model)
    opt = torch.optim.SGD(forced.parameters(), lr=1e-2)
    from rlvr.algos.losses import ppo_clip
    from rlvr.batching import completion_logprobs
    logp = completion_logprobs(forced, batch, torch.arange(12), temperature=1.0, chunk_size=64, precision="none")
    loss, _ = ppo_clip(logp, logp.detach(), adv, batch.mask, reduce="seq_mean_token_mean")
    loss.backward()
    opt.step()
    for p, q in zip(skipped.parameters(), forced.parameters()):
        assert torch.allclose(p, q, atol=1e-6, rtol=0)


def test_several_mini_batches_and_epochs_step_the_optimizer_each_time(rollout):
    model, batch, adv = rollout
    _, m = _update(model, batch, adv, {"algo": {"epochs": 2, "mini_batch_size": 6}})
    assert m["grad_norm"] > 0
    # after the first optimizer step the policy has moved: ratios leave 1
    assert m["ratio_max"] > 1.0


def test_maxima_are_maxima_over_micro_batches(rollout):
    # A maximum does not depend on how the batch is split; a token-weighted mean of per-micro-batch
    # maxima would be smaller with 12 micro-batches of one sequence than with one of twelve.
    model, batch, adv = rollout
    algo = {"algo": {"epochs": 2, "mini_batch_size": 12}}
    _, split = _update(model, batch, adv, {**algo, "optim": {"lr": 1e-2, "grad_clip": 0.0, "micro_batch_size": 1}})
    _, whole = _update(model, batch, adv, {**algo, "optim": {"lr": 1e-2, "grad_clip": 0.0, "micro_batch_size": 12}})
    assert whole["ratio_max"] > 1.0  # the second epoch sees the moved policy
    assert split["ratio_max"] == pytest.approx(whole["ratio_max"], rel=1e-4)
    assert split["ratio_mean"] == pytest.approx(whole["ratio_mean"], rel=1e-4)


def _same_update(model, batch, adv, extra, **kw):
    a, ma = _update(model, batch, adv, {**extra, "optim": {"lr": 1e-2, "grad_clip": 0.0, "micro_batch_size": 1}}, **kw)
    b, mb = _update(model, batch, adv, {**extra, "optim": {"lr": 1e-2, "grad_clip": 0.0, "micro_batch_size": 12}},
                    **kw)
    assert abs(ma["grad_norm"] - mb["grad_norm"]) < 1e-6 * max(1.0, mb["grad_norm"])
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.allclose(p, q, atol=1e-6, rtol=0)
    return ma, mb


@pytest.mark.parametrize("loss", sorted(LOSSES))
def test_accumulation_is_exact_for_every_loss(rollout, loss):
    model, batch, adv = rollout
    # two mini-batches of 6 over two epochs: the ratio leaves 1 after the first optimizer step
    _same_update(model, batch, adv, {"algo": {"loss": loss, "epochs": 2, "mini_batches": 2}})


@pytest.mark.parametrize("extra", [
    {"algo": {"entropy_coef": 0.01}},                               # entropy bonus (1-shot RLVR)
    {"algo": {"pg_coef": 0.0, "entropy_coef": 0.01}},               # entropy only
    {"algo": {"correction": "tis_token", "correction_args": {"cap": 1.2}}},
    {"algo": {"correction": "mis_seq", "correction_args": {"threshold": 1.01}}},
], ids=["entropy", "entropy_only", "tis_token", "mis_seq"])
def test_accumulation_is_exact_with_extra_terms(rollout, extra):
    model, batch, adv = rollout
    if "correction" in extra["algo"]:  # a sampler that disagrees with the trainer
        batch = copy.copy(batch)
        batch.rollout_logp = batch.rollout_logp + 0.3 * torch.sin(torch.arange(batch.rollout_logp.numel())
                                                                  .view_as(batch.rollout_logp).float()) * batch.mask
    ma, _ = _same_update(model, batch, adv, extra)
    if "correction" in extra["algo"]:
        assert ma["correction/clipped_frac"] > 0 and ma["mismatch/logp_abs_diff"] > 0
    if extra["algo"].get("pg_coef") == 0.0:
        assert ma["sequences_trained"] == 12  # zero-advantage rows still train their entropy


def test_jepo_supervised_term_is_exact_when_groups_are_split(rollout):
    """−β Σ w·ℓ over micro-batches of one row equals the autograd of the evidence bound on the
    whole batch (weights from jepo_answer_weights make the split exact)."""
    from rlvr.algos.jepo import jepo_answer_weights
    model, batch, adv = rollout
    # pretend the last two completion tokens of each row are an appended answer
    answer = torch.zeros_like(batch.mask)
    lengths = batch.tokens.sum(-1).long()
    for i, n in enumerate(lengths.tolist()):
        answer[i, max(0, n - 2):n] = 1.0
    batch = copy.copy(batch)
    batch.answer_mask = answer
    ell = torch.randn(3, 4) * 3
    weights = (0.5 * jepo_answer_weights(ell) / 3).reshape(-1)
    _same_update(model, batch, adv, {}, answer_weights=weights)
