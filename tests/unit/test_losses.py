import torch

from rlvr.algos.kl import KL
from rlvr.algos.losses import LOSSES, ppo_clip
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


VALUES = torch.tensor([[1.0, 2.0, 3.0], [4.0, 0.0, 0.0]])
MASK = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])


def test_reductions_differ_as_defined_on_unequal_lengths():
    # sequence 1: sum 6 over 3 tokens; sequence 2: sum 4 over 1 token
    assert torch.isclose(REDUCE["token_mean"](VALUES, MASK), torch.tensor(10 / 4))            # 2.5
    assert torch.isclose(REDUCE["seq_mean_token_mean"](VALUES, MASK), torch.tensor(3.0))       # (2 + 4)/2
    assert torch.isclose(REDUCE["seq_mean_token_sum"](VALUES, MASK), torch.tensor(5.0))        # (6 + 4)/2
    assert torch.isclose(REDUCE["seq_mean_token_sum_norm"](VALUES, MASK), torch.tensor(5 / 3))  # T = 3
    assert torch.isclose(REDUCE["seq_mean_token_sum_norm"](VALUES, MASK, budget=10), torch.tensor(0.5))


def test_micro_batches_sum_to_the_whole_with_totals():
    totals = dict(total_tokens=MASK.sum(), total_seqs=2)
    for name, fn in REDUCE.items():
        whole = fn(VALUES, MASK)
        parts = fn(VALUES[:1], MASK[:1], **totals) + fn(VALUES[1:], MASK[1:], **totals)
        assert torch.isclose(whole, parts), name


def test_kl_estimators_by_hand():
    # π = 0.5, π_ref = 0.25 on the sampled token: δ = log(π_ref/π) = −ln 2
    logp, ref = torch.log(torch.tensor([[0.5]])), torch.log(torch.tensor([[0.25]]))
    ln2 = 0.6931472
    assert torch.isclose(KL["k1"](logp, ref), torch.tensor([[ln2]]))                 # −δ
    assert torch.isclose(KL["k2"](logp, ref), torch.tensor([[0.5 * ln2 ** 2]]))      # δ²/2 = 0.240227
    assert torch.isclose(KL["k3"](logp, ref), torch.tensor([[0.5 + ln2 - 1]]))       # e^δ − δ − 1 = 0.193147
    same = KL["k3"](logp, logp)
    assert torch.equal(same, torch.zeros_like(same))


def test_every_loss_raises_the_probability_of_a_rewarded_sequence():
    # toy bandit: one free logit vector, one sequence with positive advantage
    for name, fn in LOSSES.items():
        logits = torch.zeros(1, 3, 4, requires_grad=True)
        tokens = torch.tensor([[1, 2, 3]])
        logp = torch.log_softmax(logits, -1).gather(-1, tokens[..., None]).squeeze(-1)
        loss, _ = fn(logp, logp.detach(), torch.tensor([1.0]), torch.ones(1, 3))
        loss.backward()
        with torch.no_grad():
            new = torch.log_softmax(logits - 0.5 * logits.grad, -1).gather(-1, tokens[..., None]).sum()
        assert new > logp.sum(), name
