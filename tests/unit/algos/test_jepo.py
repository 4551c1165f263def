import math

import pytest
import torch

from rlvr.algos.advantages import ADVANTAGES
from rlvr.algos.jepo import jepo, jepo_answer_weights, jepo_evidence

NEG_INF = -math.inf
# answer likelihoods 0.5, 0.25, 0.25 after three chains of thought
ELL = torch.log(torch.tensor([[0.5, 0.25, 0.25]]))


def _unbiased_std(*a):
    m = sum(a) / len(a)
    return math.sqrt(sum((x - m) ** 2 for x in a) / (len(a) - 1))


def test_multi_sample_bound_by_hand():
    # bound: log((0.5 + 0.25 + 0.25)/3) = log(1/3); leave-one-out: without 0 → log(0.25),
    # without 1 or 2 → log((0.5 + 0.25)/2) = log(0.375)
    # A = log(1/3) − log(1/4) = log(4/3) = 0.287682; log(1/3) − log(0.375) = log(8/9) = −0.117783
    # unbiased std of A = 0.234096 → 1.228913, −0.503143, −0.503143
    a = [math.log(4 / 3), math.log(8 / 9), math.log(8 / 9)]
    s = _unbiased_std(*a) + 1e-6
    assert torch.allclose(jepo(ELL, clip=10.0), torch.tensor([[x / s for x in a]]), atol=1e-6)
    # clip = 1 (default): the positive one is clipped to 1
    assert torch.allclose(jepo(ELL), torch.tensor([[1.0, a[1] / s, a[2] / s]]), atol=1e-6)
    assert ADVANTAGES["jepo"] is jepo


def test_single_sample_bound_by_hand():
    # ell = −ln2, −2ln2, −2ln2: A_0 = −ln2 − (−2ln2) = ln2; A_1 = −2ln2 − (−1.5ln2) = −0.5ln2
    # std = ln2·sqrt((1 + 0.25 + 0.25)/2) = ln2·sqrt(0.75) → 1/sqrt(0.75) = 1.154701, −0.577350
    ln2 = math.log(2)
    s = ln2 * math.sqrt(0.75) + 1e-6
    expected = torch.tensor([[ln2 / s, -0.5 * ln2 / s, -0.5 * ln2 / s]])
    assert torch.allclose(jepo(ELL, bound="single", clip=10.0), expected, atol=1e-6)


def test_evidence_by_hand():
    # multi: log(1/3) = −1.098612; single: (−ln2 − 2ln2 − 2ln2)/3 = −5ln2/3 = −1.155245 (≤ multi: Jensen)
    assert torch.allclose(jepo_evidence(ELL), torch.tensor([math.log(1 / 3)]))
    assert torch.allclose(jepo_evidence(ELL, bound="single"), torch.tensor([-5 * math.log(2) / 3]))


def test_answer_weights_by_hand_and_sum_to_one():
    # multi: softmax(log 0.5, log 0.25, log 0.25) = 0.5, 0.25, 0.25; single: 1/3 each
    assert torch.allclose(jepo_answer_weights(ELL), torch.tensor([[0.5, 0.25, 0.25]]))
    assert torch.allclose(jepo_answer_weights(ELL, bound="single"), torch.full((1, 3), 1 / 3))
    ell = torch.tensor([[-3.0, NEG_INF, -4.0, -9.0], [NEG_INF] * 4])
    for bound in ("multi", "single"):
        w = jepo_answer_weights(ell, bound=bound)
        assert torch.allclose(w.sum(1), torch.tensor([1.0, 0.0])) and w[0, 1] == 0, bound


def test_invalid_members_get_the_penalty_and_are_left_out():
    # inserting an ill-formatted sample (−inf) leaves the others' advantages unchanged
    ell = torch.cat([ELL[:, :1], torch.tensor([[NEG_INF]]), ELL[:, 1:]], dim=1)
    for bound in ("multi", "single"):
        adv = jepo(ell, bound=bound)
        assert adv[0, 1] == -1.0
        assert torch.allclose(adv[:, [0, 2, 3]], jepo(ELL, bound=bound)), bound
    assert jepo(ell, invalid_advantage=-0.5)[0, 1] == -0.5


def test_groups_with_fewer_than_two_valid_members():
    # one valid member: no leave-one-out baseline → 0; none valid: all penalised
    adv = jepo(torch.tensor([[-3.0, NEG_INF], [NEG_INF, NEG_INF]]))
    assert torch.equal(adv, torch.tensor([[0.0, -1.0], [-1.0, -1.0]]))
    assert jepo_evidence(torch.tensor([[NEG_INF, NEG_INF]])).item() == NEG_INF


def test_equal_likelihoods_give_exactly_zero():
    ell = torch.tensor([[-3.7, -3.7, -3.7, NEG_INF], [-123.456, -123.456, -123.456, -123.456]])
    for bound in ("multi", "single"):
        assert torch.equal(jepo(ell, bound=bound), torch.tensor([[0.0, 0, 0, -1], [0, 0, 0, 0]])), bound


def test_stable_for_long_answers():
    # exp(−500) underflows in float32, yet the bound is shift-invariant: ell − 500 gives the
    # same advantages as ell, and the member with the likeliest answer gets a positive one
    ell = torch.tensor([[0.0, -1.0, -2.0]])
    for bound in ("multi", "single"):
        far = jepo(ell - 500.0, bound=bound)
        assert torch.isfinite(far).all() and torch.allclose(far, jepo(ell, bound=bound), atol=1e-5), bound
        assert far[0, 0] > 0 and far[0, 2] < 0, bound
    assert torch.allclose(jepo_evidence(ell - 500.0), jepo_evidence(ell) - 500.0)
    assert torch.allclose(jepo_answer_weights(ell - 500.0), jepo_answer_weights(ell))


def test_weights_give_the_gradient_of_the_evidence():
    # ell depends on parameters θ; ∇_θ Σ_p evidence_p must equal ∇_θ Σ w·ell with w detached
    g = torch.Generator().manual_seed(0)
    theta = torch.randn(2, 4, generator=g, requires_grad=True)
    invalid = torch.tensor([[False, True, False, False], [False, False, False, False]])
    def ell_of(theta):
        return torch.where(invalid, torch.tensor(NEG_INF), -30.0 * theta ** 2 - theta)

    for bound in ("multi", "single"):
        (g_evidence,) = torch.autograd.grad(jepo_evidence(ell_of(theta), bound=bound).sum(), theta)
        w = jepo_answer_weights(ell_of(theta), bound=bound)
        (g_weights,) = torch.autograd.grad((w * torch.where(invalid, 0.0, ell_of(theta))).sum(), theta)
        assert torch.isfinite(g_evidence).all() and torch.allclose(g_evidence, g_weights, atol=1e-5), bound


def test_unknown_bound_is_an_error():
    with pytest.raises(ValueError, match="allowed values: multi, single"):
        jepo(ELL, bound="double")
