import torch

from rlvr.algos.gae import (TOKEN_ADVANTAGES, VALUE_LOSSES, gae, kl_return_to_go, outcome_token_rewards,
                            value_loss, whiten)

# row 0: three real tokens, outcome reward 1 on the last; row 1: one real token with reward 2,
# padding filled with junk that must be ignored
REWARDS = torch.tensor([[0.0, 0.0, 1.0], [2.0, 7.0, 7.0]])
VALUES = torch.tensor([[0.5, 0.6, 0.7], [0.5, 9.0, 9.0]])
MASK = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])


def test_gae_lambda_one_is_return_minus_value():
    # γ = λ = 1: Â_t = (return-to-go) − V_t; row 0 returns 1,1,1 → Â = 0.5, 0.4, 0.3
    # row 1: return 2 → Â = 2 − 0.5 = 1.5; padding 0
    adv, ret = gae(REWARDS, VALUES, MASK, gamma=1.0, lam=1.0)
    assert torch.allclose(adv, torch.tensor([[0.5, 0.4, 0.3], [1.5, 0.0, 0.0]]))
    assert torch.allclose(ret, torch.tensor([[1.0, 1.0, 1.0], [2.0, 0.0, 0.0]]))


def test_gae_lambda_zero_is_one_step_td_error():
    # λ = 0: Â_t = δ_t = r_t + V_{t+1} − V_t, V after the last token = 0
    # row 0: 0 + 0.6 − 0.5 = 0.1, 0 + 0.7 − 0.6 = 0.1, 1 + 0 − 0.7 = 0.3; returns Â + V = 0.6, 0.7, 1.0
    # row 1: 2 + 0 − 0.5 = 1.5 (the padding's V = 9 is not the next state)
    adv, ret = gae(REWARDS, VALUES, MASK, gamma=1.0, lam=0.0)
    assert torch.allclose(adv, torch.tensor([[0.1, 0.1, 0.3], [1.5, 0.0, 0.0]]))
    assert torch.allclose(ret, torch.tensor([[0.6, 0.7, 1.0], [2.0, 0.0, 0.0]]))


def test_gae_with_discount_by_hand():
    # γ = 0.9, λ = 0.5, γλ = 0.45; δ_0 = 0.9·0.6 − 0.5 = 0.04, δ_1 = 0.9·0.7 − 0.6 = 0.03, δ_2 = 1 − 0.7 = 0.3
    # Â_2 = 0.3; Â_1 = 0.03 + 0.45·0.3 = 0.165; Â_0 = 0.04 + 0.45·0.165 = 0.11425
    adv, _ = gae(REWARDS[:1], VALUES[:1], MASK[:1], gamma=0.9, lam=0.5)
    assert torch.allclose(adv, torch.tensor([[0.11425, 0.165, 0.3]]))


def _gae_by_definition(r, v, length, gamma, lam):
    """Â_t = Σ_l (γλ)^l δ_{t+l} as a double loop over one row's real tokens."""
    vals = [float(x) for x in v[:length]] + [0.0]
    delta = [float(r[t]) + gamma * vals[t + 1] - vals[t] for t in range(length)]
    return [sum((gamma * lam) ** l * delta[t + l] for l in range(length - t)) for t in range(length)]


def test_gae_recursion_matches_the_definition_on_random_rows():
    g = torch.Generator().manual_seed(0)
    B, T = 6, 9
    r, v = torch.randn(B, T, generator=g), torch.randn(B, T, generator=g)
    lengths = [9, 1, 4, 7, 2, 5]
    mask = (torch.arange(T) < torch.tensor(lengths)[:, None]).float()
    adv, ret = gae(r, v, mask, gamma=0.97, lam=0.9)
    for b, n in enumerate(lengths):
        expected = torch.tensor(_gae_by_definition(r[b], v[b], n, 0.97, 0.9))
        assert torch.allclose(adv[b, :n], expected, atol=1e-5)
        assert torch.equal(adv[b, n:], torch.zeros(T - n))
        assert torch.allclose(ret[b, :n], expected + v[b, :n], atol=1e-5)


def test_gae_is_detached_from_the_critic():
    values = VALUES.clone().requires_grad_(True)
    adv, ret = TOKEN_ADVANTAGES["gae"](REWARDS, values, MASK)
    assert not adv.requires_grad and not ret.requires_grad


def test_outcome_reward_lands_on_the_last_real_token():
    # lengths 2 and 1 (and an empty row, which gets nothing)
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    out = outcome_token_rewards(torch.tensor([1.0, -2.0, 5.0]), mask)
    assert torch.equal(out, torch.tensor([[0.0, 1.0, 0.0], [-2.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))


def test_kl_return_to_go_by_hand():
    # kl 0.1, 0.2, 0.3 (+ padding 5): sums to go 0.6, 0.5, 0.3 → ×(−0.5) = −0.3, −0.25, −0.15, 0
    out = kl_return_to_go(torch.tensor([[0.1, 0.2, 0.3, 5.0]]), torch.tensor([[1.0, 1.0, 1.0, 0.0]]), coef=0.5)
    assert torch.allclose(out, torch.tensor([[-0.3, -0.25, -0.15, 0.0]]))


def test_whiten_by_hand():
    # real entries 1, 2, 3 (100 is padding): mean 2, population std sqrt(2/3) = 0.816497
    x, m = torch.tensor([[1.0, 2.0, 3.0, 100.0]]), torch.tensor([[1.0, 1.0, 1.0, 0.0]])
    s = (2 / 3) ** 0.5
    assert torch.allclose(whiten(x, m), torch.tensor([[-1 / s, 0.0, 1 / s, 0.0]]))  # ±1.224745
    # shift_mean=False only rescales: 1.224745, 2.449490, 3.674235
    assert torch.allclose(whiten(x, m, shift_mean=False), torch.tensor([[1 / s, 2 / s, 3 / s, 0.0]]))
    assert torch.equal(whiten(torch.full((2, 3), 0.7), torch.ones(2, 3)), torch.zeros(2, 3))


# three real tokens, c = 0.2:
#   a: V 1.0, V_old 0.5, R 1.0 → (V−R)² = 0; clip(V) = 0.7, (0.7−1)² = 0.09 → max 0.09, ½ → 0.045 (clipped branch)
#   b: V 0.6, V_old 0.5, R 0.2 → 0.16 both ways (inside the clip range) → 0.08
#   c: V 0.0, V_old 0.5, R 1.0 → (0−1)² = 1; clip(V) = 0.3, 0.7² = 0.49 → max 1, ½ → 0.5 (unclipped)
V = torch.tensor([[1.0, 0.6], [0.0, 5.0]])
V_OLD = torch.tensor([[0.5, 0.5], [0.5, 0.0]])
RET = torch.tensor([[1.0, 0.2], [1.0, 0.0]])
VMASK = torch.tensor([[1.0, 1.0], [1.0, 0.0]])


def test_clipped_value_loss_by_hand():
    values = V.clone().requires_grad_(True)
    loss, m = value_loss(values, V_OLD, RET, VMASK, clip=0.2)
    loss.backward()
    assert torch.isclose(loss, torch.tensor(0.625 / 3))              # (0.045 + 0.08 + 0.5)/3 = 0.208333
    # a: clipped branch, V outside V_old ± c → no gradient; b: (V−R)/3 = 0.4/3; c: (0−1)/3
    assert torch.allclose(values.grad, torch.tensor([[0.0, 0.4 / 3], [-1 / 3, 0.0]]))
    assert torch.isclose(m["value/clip_frac"], torch.tensor(1 / 3))
    assert torch.isclose(m["value/mean"], torch.tensor(1.6 / 3))     # (1 + 0.6 + 0)/3
    assert torch.isclose(m["value/error"], torch.tensor(1.4 / 3))    # (0 + 0.4 + 1)/3


def test_unclipped_value_loss_and_registry():
    # clip 0: ½(0 + 0.16 + 1)/3 = 0.193333, nothing clipped
    loss, m = VALUE_LOSSES["clipped_mse"](V, V_OLD, RET, VMASK, clip=0.0)
    assert torch.isclose(loss, torch.tensor(0.58 / 3)) and m["value/clip_frac"] == 0
    # seq_mean_token_sum: rows (0.045 + 0.08) and 0.5 → (0.125 + 0.5)/2 = 0.3125
    loss, _ = value_loss(V, V_OLD, RET, VMASK, reduce="seq_mean_token_sum")
    assert torch.isclose(loss, torch.tensor(0.3125))
