"""JEPO's two terms weighted as its gradient estimator (arXiv 2503.19618 §3–4; issue 10 fix 5)."""
import pytest
import torch

from rlvr.algos.jepo import jepo, jepo_answer_weights
from rlvr.batching import completion_logprobs
from rlvr.config import ConfigError, load_config
from rlvr.methods import JEPO
from rlvr.methods.objective import PolicyObjective
from rlvr.models import tiny_model
from rlvr.samplers import Rollout
from rlvr.types import Completion, Sample


def _setup(bound):
    model, tok = tiny_model(0)
    cfg = load_config(None, {"model": {"path": "tiny"}, "data": {"train": "derivations"},
                             "rollout": {"prompts_per_step": 1, "group_size": 3},
                             "algo": {"advantage": "jepo", "advantage_args": {"bound": bound},
                                      "reduce": "seq_mean_token_sum"}, "jepo": {"beta_sup": 0.5}})
    prompt = tok("1+2+3 step by step").input_ids
    lengths = (4, 2, 3)  # unequal chains: a per-token mean and a per-token sum weigh them differently
    completions = [Completion(tok("12345"[:n], add_special_tokens=False).input_ids, [-1.0] * n, "x", "length")
                   for n in lengths]
    rollout = Rollout([Sample("1+2+3", "1+2=3, 3+3=6")], [prompt], completions, torch.zeros(1, 3),
                      [False] * 3, [{}] * 3)
    return cfg, model, tok, rollout


@pytest.mark.parametrize("bound", ["multi", "single"])
def test_the_gradient_is_the_estimators(bound):
    """By hand, per prompt (P = 1, n = 3):
        multi:  ∇ = Σ_i A_i ∇log π(c_i|x) + β_sup Σ_i w_i ∇ℓ_i,   w = softmax(ℓ)
        single: ∇ = (1/n) Σ_i A_i ∇log π(c_i|x) + β_sup (1/n) Σ_i ∇ℓ_i
    with log π(c_i|x) the SUM over the chain's tokens. Before the fix the policy term was
    (1/n) Σ_i A_i (1/|c_i|) Σ_t — 1/(n·|c_i|) of the multi-sample estimator's weight."""
    cfg, model, tok, rollout = _setup(bound)
    method = JEPO(cfg, model, tok)
    train = method.prepare(rollout, step=1)
    rows = torch.arange(3)
    objective = PolicyObjective(model, train, cfg)
    objective.begin(rows)
    loss, _, _ = objective.micro(rows)
    grads = torch.autograd.grad(loss, [p for p in model.parameters()])

    ell = train.rewards  # [1, 3] the answer log-likelihoods after each chain of thought
    A = jepo(ell, bound=bound).reshape(-1)
    w = jepo_answer_weights(ell, bound=bound).reshape(-1)
    logp = completion_logprobs(model, train.batch, rows, temperature=1.0, chunk_size=1024, precision="none")
    chain = (logp * train.batch.mask).sum(-1)        # log π(c_i|x)
    answer = (logp * train.batch.answer_mask).sum(-1)  # ℓ_i, with gradients
    pg_weight = 1.0 if bound == "multi" else 1 / 3
    by_hand = -(pg_weight * (A * chain).sum() + 0.5 * (w * answer).sum())
    want = torch.autograd.grad(by_hand, [p for p in model.parameters()])
    for g, h in zip(grads, want):
        assert torch.allclose(g, h, atol=1e-6, rtol=1e-5)


def test_jepo_refuses_a_reduction_that_is_not_its_estimators():
    with pytest.raises(ConfigError, match="seq_mean_token_sum"):
        load_config(None, ["--algo.advantage=jepo", "--data.train=derivations"])
