import math

import torch

from rlvr.algos.advantages import ADVANTAGES, dr_grpo, grpo


def test_grpo_matches_hand_computation():
    # rewards 1,0,0,1: mean 0.5, centred ±0.5; unbiased variance = 4·0.25/3 = 1/3,
    # std = 0.577350; advantage = ±0.5 / (0.577350 + 1e-6) = ±0.866024
    adv = grpo(torch.tensor([[1.0, 0.0, 0.0, 1.0]]))
    expected = 0.5 / (math.sqrt(1 / 3) + 1e-6)
    assert torch.allclose(adv, torch.tensor([[expected, -expected, -expected, expected]]), atol=1e-6)


def test_grpo_groups_are_independent_rows():
    # row 2 is row 1 shifted by +10 and scaled by 2: mean/std normalisation removes both
    r = torch.tensor([[1.0, 2.0, 4.0], [12.0, 14.0, 18.0]])
    adv = grpo(r)
    assert torch.allclose(adv[0], adv[1], atol=1e-5)


def test_all_equal_rewards_give_zero_advantage():
    r = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    for name in ("grpo", "dr_grpo"):
        assert torch.equal(ADVANTAGES[name](r), torch.zeros_like(r))


def test_dr_grpo_only_centres():
    # mean of 1,0,0,0 is 0.25 → 0.75, −0.25, −0.25, −0.25 (no std division)
    adv = dr_grpo(torch.tensor([[1.0, 0.0, 0.0, 0.0]]))
    assert torch.allclose(adv, torch.tensor([[0.75, -0.25, -0.25, -0.25]]))
    assert torch.equal(adv, grpo(torch.tensor([[1.0, 0.0, 0.0, 0.0]]), scale_by_std=False))


def test_group_of_one_has_zero_advantage():
    assert torch.equal(grpo(torch.tensor([[3.0], [1.0]])), torch.zeros(2, 1))


def test_eps_keeps_tiny_spread_finite():
    # std of (0, 1e-9) ≈ 7.07e-10 ≪ eps = 1e-6: advantages stay below 1e-3 instead of ±0.707
    adv = grpo(torch.tensor([[0.0, 1e-9]]))
    assert adv.abs().max() < 1e-3
