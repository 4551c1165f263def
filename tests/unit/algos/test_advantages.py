import math
from functools import partial

import torch

from rlvr.algos.advantages import (ADVANTAGES, dr_grpo, grpo, reinforce_pp, reinforce_pp_baseline, remax,
                                   rloo)


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


def test_equal_rewards_that_round_give_exactly_zero():
    """Regression: the plain mean of eight rewards of 0.7 rounds in float32, leaving ±6e-8
    that the std division (std ≈ 6e-8, eps 1e-6) turned into advantages of ±0.056."""
    r = torch.full((1, 8), 0.7)
    for name in ("grpo", "dr_grpo", "rloo", "reinforce_pp_baseline"):
        assert torch.equal(ADVANTAGES[name](r), torch.zeros_like(r)), name
    batch = torch.full((2, 4), 0.7)  # REINFORCE++ is zero only when the whole batch agrees
    assert torch.equal(reinforce_pp(batch), torch.zeros_like(batch))


def test_grpo_population_std():
    # rewards 1,0,0,1: population variance = 4·0.25/4 = 0.25, std 0.5 → ±0.5/(0.5 + 1e-6)
    adv = grpo(torch.tensor([[1.0, 0.0, 0.0, 1.0]]), unbiased=False)
    expected = 0.5 / (0.5 + 1e-6)  # 0.999998
    assert torch.allclose(adv, torch.tensor([[expected, -expected, -expected, expected]]), atol=1e-6)


def test_rloo_leave_one_out_by_hand():
    # rewards 1,0,0,0: A_0 = 1 − (0+0+0)/3 = 1; A_1 = 0 − (1+0+0)/3 = −1/3
    # (= 4/3 · (R − 0.25): 4/3·0.75 = 1, 4/3·(−0.25) = −1/3)
    adv = rloo(torch.tensor([[1.0, 0.0, 0.0, 0.0]]))
    assert torch.allclose(adv, torch.tensor([[1.0, -1 / 3, -1 / 3, -1 / 3]]))
    assert torch.equal(rloo(torch.tensor([[3.0], [1.0]])), torch.zeros(2, 1))  # group of one


def test_reinforce_pp_whitens_over_the_whole_batch():
    # all four rewards 1,0,0,0: mean 0.25, population std sqrt(0.25·0.75) = 0.433013
    # → (1 − 0.25)/0.433013 = 1.732051 and −0.25/0.433013 = −0.577350; the all-zero group is
    # NOT zero — REINFORCE++ has no group baseline
    adv = reinforce_pp(torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    s = math.sqrt(0.25 * 0.75) + 1e-6
    assert torch.allclose(adv, torch.tensor([[0.75 / s, -0.25 / s], [-0.25 / s, -0.25 / s]]), atol=1e-6)


def test_reinforce_pp_baseline_centres_per_group_then_scales_over_the_batch():
    # group-centred: (0.5, −0.5), (0, 0); batch std (mean 0) = sqrt((0.25 + 0.25)/4) = 0.353553
    # → ±0.5/0.353553 = ±1.414214; the all-equal group stays exactly 0
    adv = reinforce_pp_baseline(torch.tensor([[1.0, 0.0], [0.0, 0.0]]))
    s = math.sqrt(0.125) + 1e-6
    assert torch.allclose(adv, torch.tensor([[0.5 / s, -0.5 / s], [0.0, 0.0]]), atol=1e-6)
    assert torch.equal(adv[1], torch.zeros(2))


def test_remax_subtracts_the_greedy_reward():
    # prompt 0: greedy scored 1 → (1−1, 0−1, 1−1); prompt 1: greedy scored 0 → (0, 0, 0)
    adv = remax(torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]]), greedy_rewards=torch.tensor([1.0, 0.0]))
    assert torch.equal(adv, torch.tensor([[0.0, -1.0, 0.0], [0.0, 0.0, 0.0]]))
    assert getattr(ADVANTAGES["remax"], "needs_greedy_rewards", False)
    others = [n for n, f in ADVANTAGES.items() if getattr(f, "needs_greedy_rewards", False)]
    assert others == ["remax"]


def test_every_group_relative_estimator_gives_zero_to_equal_groups():
    r = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [0.5, 0.5, 0.5]])
    fns = {name: ADVANTAGES[name] for name in ("grpo", "dr_grpo", "rloo", "reinforce_pp_baseline", "jepo")}
    fns["remax"] = partial(remax, greedy_rewards=r[:, 0])  # the greedy answer scored the same
    for name, fn in fns.items():
        assert torch.equal(fn(r), torch.zeros_like(r)), name


def test_registry_names_and_shapes():
    assert set(ADVANTAGES) == {"grpo", "dr_grpo", "raw", "rloo", "reinforce_pp", "reinforce_pp_baseline",
                               "remax", "jepo"}
    r = torch.rand(3, 4, generator=torch.Generator().manual_seed(0))
    for name, fn in ADVANTAGES.items():
        kw = {"greedy_rewards": r[:, 0]} if name == "remax" else {}
        assert fn(r, **kw).shape == (3, 4), name
