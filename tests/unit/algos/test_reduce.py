"""Reductions: each differs from the others exactly as its definition says, and every one
splits into micro-batches that add up to the whole when given the mini-batch totals."""
import pytest
import torch

from rlvr.algos.reduce import REDUCE, delta_l

# Two sequences of lengths 1 and 4 in a [2, 4] batch. Row 0's padding holds 100s: masked
# positions must not count. Row sums: 3 and 1 + 2 + 3 + 4 = 10; 5 tokens in all.
VALUES = torch.tensor([[3.0, 100.0, 100.0, 100.0], [1.0, 2.0, 3.0, 4.0]])
MASK = torch.tensor([[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0]])


def _close(x, expected):
    return torch.isclose(x, torch.tensor(expected), atol=1e-6, rtol=0)


def test_reductions_differ_exactly_as_their_definitions_say_on_unequal_lengths():
    assert _close(REDUCE["token_mean"](VALUES, MASK), 2.6)                     # (3 + 10)/5
    assert _close(REDUCE["seq_mean_token_mean"](VALUES, MASK), 2.75)           # (3/1 + 10/4)/2
    assert _close(REDUCE["seq_mean_token_sum"](VALUES, MASK), 6.5)             # (3 + 10)/2
    assert _close(REDUCE["seq_mean_token_sum_norm"](VALUES, MASK, budget=8), 0.8125)  # 6.5/8
    assert _close(REDUCE["seq_mean_token_sum_norm"](VALUES, MASK), 1.625)      # 6.5/T, T = 4
    # ΔL, α = 1, M = 8: L^−1 = (1, ¼), Σ = 1.25 ⇒ x = (0.8, 0.2)/8 = (0.1, 0.025);
    # 0.1·3 + 0.025·10 = 0.55 — the short sequence gets 4× the long one's weight
    assert _close(delta_l(VALUES, MASK, alpha=1.0, budget=8), 0.55)
    # α = 0: x = (½, ½)/8 ⇒ (3 + 10)/16 = 0.8125 = seq_mean_token_sum_norm with budget 8
    assert _close(delta_l(VALUES, MASK, alpha=0.0, budget=8), 0.8125)
    # α = ½: L^−½ = (1, ½), Σ = 1.5 ⇒ x = (⅔, ⅓)/8 = (1/12, 1/24); 3/12 + 10/24 = 0.666667
    assert _close(delta_l(VALUES, MASK, alpha=0.5, budget=8), 2 / 3)
    # default α = 1 and M = T = 4: x = (0.8, 0.2)/4 = (0.2, 0.05); 0.6 + 0.5 = 1.1
    assert _close(REDUCE["delta_l"](VALUES, MASK), 1.1)


def test_delta_l_with_alpha_zero_is_seq_mean_token_sum_norm():
    g = torch.Generator().manual_seed(0)
    values = torch.randn(4, 6, generator=g)
    mask = (torch.arange(6) < torch.tensor([6, 2, 5, 1])[:, None]).float()
    for budget in (None, 10):
        assert torch.allclose(delta_l(values, mask, alpha=0.0, budget=budget),
                              REDUCE["seq_mean_token_sum_norm"](values, mask, budget=budget), atol=1e-6)


@pytest.mark.parametrize("alpha", [0.0, 0.75, 1.0])
def test_delta_l_weights_equal_lengths_equally(alpha):
    # both length 3: x = (1/2)/M each, whatever α ⇒ (6 + 15)/(2·3) = 3.5 with M = T = 3
    values = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert _close(delta_l(values, torch.ones(2, 3), alpha=alpha), 3.5)


def test_delta_l_survives_an_empty_sequence():
    # L = 0 counts as 1 (no inf from 0^−α); the empty row has no masked values, so it adds 0
    values = torch.tensor([[5.0, 5.0], [1.0, 3.0]], requires_grad=True)
    mask = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    loss = delta_l(values, mask)
    loss.backward()
    # L = (1, 2) ⇒ x = (1, ½)/(1.5 · 2) = (⅓, ⅙); 0 + 4/6 = 0.666667
    assert _close(loss.detach(), 2 / 3)
    assert torch.isfinite(values.grad).all()


def test_delta_l_refuses_micro_batch_totals_without_the_lengths():
    with pytest.raises(ValueError, match="batch_lengths"):
        delta_l(VALUES[:1], MASK[:1], total_seqs=2)


# a batch with unequal lengths, an empty row and a row of full length
G = torch.Generator().manual_seed(2)
BIG_VALUES = torch.randn(5, 6, generator=G)
BIG_MASK = (torch.arange(6) < torch.tensor([3, 6, 0, 1, 4])[:, None]).float()


@pytest.mark.parametrize("name", sorted(REDUCE))
@pytest.mark.parametrize("values, mask", [(VALUES, MASK), (BIG_VALUES, BIG_MASK)])
def test_micro_batches_add_up_to_the_whole_with_the_mini_batch_totals(name, values, mask):
    fn = REDUCE[name]
    totals = dict(total_tokens=mask.sum(), total_seqs=values.shape[0], batch_lengths=mask.sum(-1))
    whole_in = values.clone().requires_grad_(True)
    whole = fn(whole_in, mask)
    whole.backward()
    parts_in = values.clone().requires_grad_(True)
    parts = sum(fn(parts_in[i:i + 1], mask[i:i + 1], **totals) for i in range(values.shape[0]))
    parts.backward()
    assert torch.allclose(whole, parts, atol=1e-6, rtol=0), name
    assert torch.allclose(whole_in.grad, parts_in.grad, atol=1e-6, rtol=0), name
