"""The trainer's update: gradient accumulation is exact, skipped rows change nothing."""
import copy

import pytest
import torch

from rlvr.batching import collate
from rlvr.config import load_config
from rlvr.models import tiny_model
from rlvr.rollout.base import SamplingParams
from rlvr.rollout.hf import HFEngine
from rlvr.train import policy_update


@pytest.fixture(scope="module")
def rollout():
    model, tok = tiny_model(0)
    prompts = [tok(p).input_ids for p in ("1+1=", "a longer prompt here", "x")]
    # unequal completion lengths make the reductions differ (and padding matter)
    comps = HFEngine(model, tok, seed=0).generate(prompts, 4, SamplingParams(max_new_tokens=9))
    batch = collate(prompts, comps, tok.pad_token_id)
    adv = torch.tensor([1.0, -1.0, 0.5, -0.5, 0.0, 0.0, 0.0, 0.0, 2.0, -1.0, 0.0, -1.0])
    return model, batch, adv


def _update(model, batch, adv, overrides):
    model = copy.deepcopy(model)
    cfg = load_config(None, {"model": {"path": "tiny"}, "rollout": {"prompts_per_step": 3, "group_size": 4},
                             "optim": {"lr": 1e-2, "grad_clip": 0.0}, **overrides})
    # plain SGD: the update is linear in the gradient, so equal updates mean equal gradients
    # (Adam's first step is ≈ lr·sign(g) and would magnify rounding of near-zero gradients)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.optim.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    metrics = policy_update(model, None, batch, adv, cfg=cfg, optimizer=opt, scheduler=sched, step=1)
    return model, metrics


@pytest.mark.parametrize("reduce", ["token_mean", "seq_mean_token_mean", "seq_mean_token_sum",
                                    "seq_mean_token_sum_norm"])
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
