import math

import pytest
import torch

from rlvr.algos.kl import KL
from rlvr.algos.losses import LOSSES, gmpo, gspo, gspo_token, ppo_clip
from rlvr.algos.reduce import REDUCE


def test_ratio_one_equals_reinforce():
    # logp == old_logp ⇒ r = 1, loss_t = −Â_t. Advantages (1, −2), two tokens each:
    # token_mean = (−1 −1 +2 +2)/4 = 0.5; ∂loss/∂logp_t = −Â_t · r / 4 = (−¼, −¼, ½, ½)
    logp = torch.log(torch.tensor([[0.5, 0.25], [0.5, 0.125]])).requires_grad_(True)
    mask = torch.ones(2, 2)
    loss, m = ppo_clip(logp, logp.detach(), torch.tensor([1.0, -2.0]), mask)
    loss.backward()
    assert torch.isclose(loss, torch.tensor(0.5))
    assert torch.allclose(logp.grad, torch.tensor([[-0.25, -0.25], [0.5, 0.5]]))
    assert m["clip_frac"] == 0 and torch.isclose(m["ratio_mean"], torch.tensor(1.0))


def _one_token(ratio: float, adv: float, **kw):
    old = torch.zeros(1, 1)
    logp = torch.log(torch.tensor([[ratio]])).requires_grad_(True)
    loss, m = ppo_clip(logp, old, torch.tensor([adv]), torch.ones(1, 1), **kw)
    loss.backward()
    return float(loss.detach()), float(logp.grad), m


def test_clip_higher_clips_positive_advantage_only_above_one_plus_eps_high():
    kw = dict(clip_low=0.2, clip_high=0.28)
    # r = 1.25 < 1.28: not clipped, loss = −1.25, ∂/∂logp = −Â·r = −1.25
    loss, grad, m = _one_token(1.25, 1.0, **kw)
    assert abs(loss + 1.25) < 1e-6 and abs(grad + 1.25) < 1e-6 and m["clip_frac"] == 0
    # r = 1.5 > 1.28: clipped to 1.28, loss = −1.28, no gradient
    loss, grad, m = _one_token(1.5, 1.0, **kw)
    assert abs(loss + 1.28) < 1e-6 and grad == 0 and m["clip_frac"] == 1
    # with the symmetric default (0.2) the same r = 1.25 is clipped at 1.2
    loss, grad, _ = _one_token(1.25, 1.0)
    assert abs(loss + 1.2) < 1e-6 and grad == 0


def test_negative_advantage_clips_below_one_minus_eps_low():
    # Â = −1, r = 0.7 < 0.8: −min(−0.7, −0.8) = 0.8, clipped, no gradient
    loss, grad, _ = _one_token(0.7, -1.0, clip_low=0.2, clip_high=0.28)
    assert abs(loss - 0.8) < 1e-6 and grad == 0
    # Â = −1, r = 1.5: −min(−1.5, −1.28) = 1.5, unclipped (pessimistic side), ∂ = −Â·r = 1.5
    loss, grad, _ = _one_token(1.5, -1.0, clip_low=0.2, clip_high=0.28)
    assert abs(loss - 1.5) < 1e-6 and abs(grad - 1.5) < 1e-6


def test_per_token_advantages_are_accepted():
    logp = torch.zeros(1, 2, requires_grad=True)
    loss, _ = ppo_clip(logp, logp.detach(), torch.tensor([[1.0, 3.0]]), torch.ones(1, 2))
    assert torch.isclose(loss, torch.tensor(-2.0))  # −(1 + 3)/2


def test_masked_tokens_do_not_count():
    logp = torch.zeros(1, 3, requires_grad=True)
    loss, _ = ppo_clip(logp, logp.detach(), torch.tensor([2.0]), torch.tensor([[1.0, 1.0, 0.0]]))
    loss.backward()
    assert torch.isclose(loss, torch.tensor(-2.0))
    assert logp.grad[0, 2] == 0


def test_kl_estimators_by_hand():
    # π = 0.5, π_ref = 0.25 on the sampled token: δ = log(π_ref/π) = −ln 2
    logp, ref = torch.log(torch.tensor([[0.5]])), torch.log(torch.tensor([[0.25]]))
    ln2 = 0.6931472
    assert torch.isclose(KL["k1"](logp, ref), torch.tensor([[ln2]]))                 # −δ
    assert torch.isclose(KL["k2"](logp, ref), torch.tensor([[0.5 * ln2 ** 2]]))      # δ²/2 = 0.240227
    assert torch.isclose(KL["k3"](logp, ref), torch.tensor([[0.5 + ln2 - 1]]))       # e^δ − δ − 1 = 0.193147
    same = KL["k3"](logp, logp)
    assert torch.equal(same, torch.zeros_like(same))


def test_dual_clip_caps_the_loss_of_negative_advantage_tokens():
    # Â = −1, r = 4: PPO gives −min(−4, −1.2) = 4; the dual clip caps it at −Â·c = 3, no gradient
    loss, grad, m = _one_token(4.0, -1.0, dual_clip=3.0)
    assert abs(loss - 3.0) < 1e-6 and grad == 0 and m["dual_clip_frac"] == 1
    # Â = −1, r = 2: 2 < 3, the cap does not act, ∂/∂logp = −Â·r = 2
    loss, grad, m = _one_token(2.0, -1.0, dual_clip=3.0)
    assert abs(loss - 2.0) < 1e-6 and abs(grad - 2.0) < 1e-6 and m["dual_clip_frac"] == 0
    # Â = +1, r = 4: the dual clip never touches positive advantages: −min(4, 1.2) = −1.2
    loss, grad, m = _one_token(4.0, 1.0, dual_clip=3.0)
    assert abs(loss + 1.2) < 1e-6 and grad == 0 and m["dual_clip_frac"] == 0
    # without dual_clip (the default) the r = 4 token keeps its full loss 4
    loss, _, m = _one_token(4.0, -1.0)
    assert abs(loss - 4.0) < 1e-6 and "dual_clip_frac" not in m
    with pytest.raises(ValueError, match="dual_clip"):
        _one_token(1.0, -1.0, dual_clip=1.0)


def test_gspo_ratio_is_the_exp_of_the_mean_token_log_ratio():
    # sequence 1: δ = (ln 4, 0), 2 tokens ⇒ s₁ = exp(ln 4 / 2) = 2 (the product would be 4);
    # sequence 2: δ = (ln ¼, padding) ⇒ s₂ = ¼ (the padded ln 100 must not count).
    # Wide ranges (ε = 10) so nothing is clipped; Â = (1, −1).
    old = torch.zeros(2, 2)
    logp = torch.log(torch.tensor([[4.0, 1.0], [0.25, 100.0]])).requires_grad_(True)
    mask = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
    loss, m = gspo(logp, old, torch.tensor([1.0, -1.0]), mask, clip_low=10.0, clip_high=10.0)
    loss.backward()
    # ratio_mean = (2 + ¼)/2 = 1.125, ratio_max = 2
    assert torch.isclose(m["ratio_mean"], torch.tensor(1.125)) and torch.isclose(m["ratio_max"], torch.tensor(2.0))
    # ℓ₁ = −s₁·1 = −2, ℓ₂ = −(−1)·¼ = ¼; seq_mean_token_mean: (−2 + ¼)/2 = −0.875
    assert torch.isclose(loss, torch.tensor(-0.875))
    # ∂/∂logp₁ₜ = ½ · (−Â₁ s₁ / |o₁|) = ½ · (−2/2) = −½ per token (through the mean);
    # ∂/∂logp₂₀ = ½ · (1 · ¼ / 1) = ⅛; padding 0
    assert torch.allclose(logp.grad, torch.tensor([[-0.5, -0.5], [0.125, 0.0]]))
    # token_mean of the broadcast sequence loss: (2·(−2) + 1·¼)/3 tokens = −1.25
    loss, _ = gspo(logp, old, torch.tensor([1.0, -1.0]), mask, clip_low=10.0, clip_high=10.0, reduce="token_mean")
    assert torch.isclose(loss, torch.tensor(-1.25))


def test_gspo_clips_a_sequence_as_a_whole():
    # Â = +1 for both; default ranges (3e-4, 4e-4).
    # sequence 1: δ = (0.01, −0.004) ⇒ s = e^0.003 = 1.003005 > 1.0004 ⇒ clipped: ℓ = −1.0004 and
    #   no gradient for either token — also for the −0.004 token, which token-level PPO would keep.
    # sequence 2: δ = (1e-4, −1e-4) ⇒ s = e^0 = 1 ⇒ ℓ = −1, gradient ½ · (−1·1/2) = −¼ per token.
    logp = torch.tensor([[0.01, -0.004], [1e-4, -1e-4]], requires_grad=True)
    loss, m = gspo(logp, torch.zeros(2, 2), torch.tensor([1.0, 1.0]), torch.ones(2, 2))
    loss.backward()
    assert torch.isclose(loss, torch.tensor((-1.0004 - 1.0) / 2))  # −1.0002
    assert torch.equal(logp.grad[0], torch.zeros(2))
    assert torch.allclose(logp.grad[1], torch.tensor([-0.25, -0.25]))
    assert torch.isclose(m["clip_frac"], torch.tensor(0.5))        # 1 of 2 sequences
    assert torch.isclose(m["ratio_max"], torch.tensor(1.0030045))


def test_gspo_token_equals_gspo_for_sequence_advantages():
    # Same loss and same gradient under every reduction, with some sequences clipped
    # (|δ| ~ 1e-3 against ranges of 3e-4 / 4e-4) and unequal lengths.
    g = torch.Generator().manual_seed(0)
    old = torch.randn(6, 5, generator=g)
    logp0 = old + 1e-3 * torch.randn(6, 5, generator=g)
    mask = (torch.arange(5) < torch.tensor([5, 1, 3, 4, 2, 5])[:, None]).float()
    adv = torch.tensor([1.0, -1.0, 0.5, -2.0, 1.5, -0.5])
    clipped = 0
    for reduce in REDUCE:
        out = []
        for fn in (gspo, gspo_token):
            logp = logp0.clone().requires_grad_(True)
            loss, m = fn(logp, old, adv, mask, reduce=reduce)
            loss.backward()
            out.append((loss.detach(), logp.grad))
            clipped = max(clipped, float(m["clip_frac"]))
        assert torch.allclose(out[0][0], out[1][0], atol=1e-6, rtol=0), reduce
        assert torch.allclose(out[0][1], out[1][1], atol=1e-6, rtol=0), reduce
    assert clipped > 0  # the example does exercise the clipped branch


def test_gspo_token_keeps_per_token_advantages():
    # On-policy (s = 1), Â = (1, 3) on one 2-token sequence: ℓ = (−1, −3), seq_mean_token_mean −2;
    # gspo averages the advantages first: Â = 2, ℓ = −2 per token, the same value here, but the
    # gradients differ: gspo_token −Âₜ/2 = (−½, −1.5), gspo −2/2 = (−1, −1).
    adv = torch.tensor([[1.0, 3.0]])
    grads = []
    for fn in (gspo_token, gspo):
        logp = torch.zeros(1, 2, requires_grad=True)
        loss, _ = fn(logp, logp.detach(), adv, torch.ones(1, 2))
        loss.backward()
        assert torch.isclose(loss, torch.tensor(-2.0))
        grads.append(logp.grad)
    assert torch.allclose(grads[0], torch.tensor([[-0.5, -1.5]]))
    assert torch.allclose(grads[1], torch.tensor([[-1.0, -1.0]]))


def test_gmpo_is_the_geometric_mean_of_token_ratios_when_nothing_is_clipped():
    # token ratios (1.2, 0.9, 1.1), all |ln r| < 0.4; a 4th padded token with ratio e^5 must not count.
    # geometric mean (1.2·0.9·1.1)^(1/3) = 1.188^(1/3) = 1.0591045 (arithmetic mean: 1.0667)
    # Â = 2: loss = −2 · 1.0591045 = −2.118209; ∂/∂logpₜ = −Â·ratio/3 = −0.706070 for each real token
    old = torch.zeros(1, 4)
    logp = torch.log(torch.tensor([[1.2, 0.9, 1.1, math.exp(5.0)]])).requires_grad_(True)
    loss, m = gmpo(logp, old, torch.tensor([2.0]), torch.tensor([[1.0, 1.0, 1.0, 0.0]]))
    loss.backward()
    assert torch.isclose(m["ratio_mean"], torch.tensor(1.0591045))
    assert torch.isclose(loss, torch.tensor(-2.118209))
    assert torch.allclose(logp.grad, torch.tensor([[-0.706070, -0.706070, -0.706070, 0.0]]))
    assert m["clip_frac"] == 0


def test_gmpo_clips_log_ratios_on_the_side_the_advantage_selects():
    # Both sequences have δ = (0.5, −0.5); clip range 0.4 in log space.
    # Â = +1: only the upper bound acts: d = (0.4, −0.5), mean −0.05, ratio e^−0.05 = 0.951229,
    #   ℓ = −0.951229; token 1 clipped (no gradient), token 2 keeps −Â·ratio/2 = −0.475615.
    # Â = −1: only the lower bound acts: d = (0.5, −0.4), mean 0.05, ratio e^0.05 = 1.051271,
    #   ℓ = +1.051271; token 1 keeps −Â·ratio/2 = 0.525636, token 2 clipped.
    # seq_mean_token_mean halves everything: loss (−0.951229 + 1.051271)/2 = 0.050021.
    logp = torch.tensor([[0.5, -0.5], [0.5, -0.5]], requires_grad=True)
    loss, m = gmpo(logp, torch.zeros(2, 2), torch.tensor([1.0, -1.0]), torch.ones(2, 2))
    loss.backward()
    assert torch.isclose(loss, torch.tensor(0.050021), atol=1e-6)
    assert torch.allclose(logp.grad, torch.tensor([[0.0, -0.2378073], [0.2628178, 0.0]]))
    assert torch.isclose(m["clip_frac"], torch.tensor(0.5))           # 2 of 4 tokens
    assert torch.isclose(m["ratio_mean"], torch.tensor(1.0012503))    # (0.951229 + 1.051271)/2
    assert torch.isclose(m["ratio_max"], torch.tensor(1.0512711))


def test_gmpo_averages_per_token_advantages_over_the_sequence():
    # Â = (1, 3, 99 on padding) ⇒ Â = 2 for the sequence; on-policy ratio 1 ⇒ loss −2
    logp = torch.zeros(1, 3, requires_grad=True)
    loss, _ = gmpo(logp, logp.detach(), torch.tensor([[1.0, 3.0, 99.0]]), torch.tensor([[1.0, 1.0, 0.0]]))
    assert torch.isclose(loss, torch.tensor(-2.0))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_zero_advantage_means_zero_loss_and_zero_gradient(name):
    # The trainer skips zero-advantage rows of losses marked `linear_in_advantage`; that is
    # only exact if their value and gradient are exactly 0 — also off-policy, for [B] and [B, T].
    fn = LOSSES[name]
    assert getattr(fn, "linear_in_advantage", False), name
    g = torch.Generator().manual_seed(1)
    old = torch.randn(3, 4, generator=g)
    mask = torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
    for adv in (torch.zeros(3), torch.zeros(3, 4)):
        logp = (old + 0.5 * torch.randn(3, 4, generator=g)).requires_grad_(True)
        loss, _ = fn(logp, old, adv, mask)
        loss.backward()
        assert loss == 0, name
        assert torch.equal(logp.grad, torch.zeros_like(logp)), name
