from functools import partial

import pytest
import torch

from rlvr.algos.advantages import grpo
from rlvr.algos.filters import GROUP_FILTERS, adaptive_keep, filtered_advantages, shortest, token_efficiency

ZEROS = torch.zeros(1, 4)


def test_shortest_keeps_the_k_shortest():
    # lengths 5, 3, 3, 9, keep 2 → the two 3s (indices 1, 2)
    kept = shortest(ZEROS, torch.tensor([[5, 3, 3, 9]]), torch.tensor([2]))
    assert kept.tolist() == [[False, True, True, False]]


def test_ties_go_to_the_lower_index():
    # lengths 4, 2, 4, 4, keep 2 → the 2 (index 1), then the first of the tied 4s (index 0)
    kept = shortest(ZEROS, torch.tensor([[4, 2, 4, 4]]), torch.tensor([2]))
    assert kept.tolist() == [[True, True, False, False]]


def test_token_efficiency_keeps_the_highest_reward_per_token():
    # R/|o| = 1/10 = 0.1, 1/5 = 0.2, 0/1 = 0, 1/max(0, 1) = 1 → keep 2: indices 3 and 1
    kept = token_efficiency(torch.tensor([[1.0, 1.0, 0.0, 1.0]]), torch.tensor([[10, 5, 1, 0]]), torch.tensor([2]))
    assert kept.tolist() == [[False, True, False, True]]


def test_token_efficiency_prefers_long_answers_among_negative_rewards():
    # the documented pitfall: −1/100 = −0.01 > −1/10 = −0.1, so the longer wrong answer is kept
    kept = token_efficiency(torch.tensor([[-1.0, -1.0]]), torch.tensor([[10, 100]]), torch.tensor([1]))
    assert kept.tolist() == [[False, True]]


def test_every_filter_keeps_exactly_keep_per_row():
    g = torch.Generator().manual_seed(0)
    rewards = torch.randint(-1, 2, (50, 8), generator=g).float()
    lengths = torch.randint(0, 6, (50, 8), generator=g)  # many ties
    keep = torch.randint(1, 9, (50,), generator=g)
    for name, fn in GROUP_FILTERS.items():
        kept = fn(rewards, lengths, keep)
        assert kept.dtype == torch.bool and torch.equal(kept.sum(1), keep), name
        assert torch.equal(kept, fn(rewards, lengths, keep)), name  # deterministic


def test_keep_larger_than_the_group_is_an_error():
    with pytest.raises(ValueError, match="group size"):
        shortest(ZEROS, torch.tensor([[1, 2, 3, 4]]), torch.tensor([5]))


def test_adaptive_keep_buckets_by_history_quartiles():
    # history 0..15: torch.quantile interpolates linearly at 0.25·15 = 3.75, 7.5, 11.25
    # buckets (q[i−1], q[i]]: 0 → ≤q25 (0); 3.75 = q25 (0); 3.76 (1); 7.5 = q50 (1); 11.24 (2);
    # 11.25 = q75 (2); 11.26 (3); 15 (3)
    history = torch.arange(16.0)
    means = torch.tensor([0.0, 3.75, 3.76, 7.5, 11.24, 11.25, 11.26, 15.0])
    keep = adaptive_keep(means, history, keeps=(10, 8, 6, 4))
    assert keep.tolist() == [10, 10, 8, 8, 6, 6, 4, 4]
    assert adaptive_keep(means, history).tolist() == [8, 8, 8, 8, 6, 6, 4, 4]  # the paper's (8, 8, 6, 4)


def test_adaptive_keep_gives_tied_quartiles_to_the_hardest_bucket():
    """Issue 10 fix 3: with most earlier prompts at mean reward 0 the quartiles tie at 0, and
    the strict rule m < q put every prompt at 0 — the hardest — in the easy bucket, k = 4.
    History: 14 zeros and 2 ones → q25 = q50 = q75 = 0 (0.25·15 … 0.75·15 all index zeros)."""
    history = torch.tensor([0.0] * 14 + [1.0] * 2)
    keep = adaptive_keep(torch.tensor([0.0, 0.5, 1.0]), history)
    assert keep.tolist() == [8, 4, 4]  # mean 0: very hard (k 8); above every quartile: easy


def test_adaptive_keep_warm_up_keeps_the_maximum():
    # 15 < min_history = 16 values: every prompt keeps max(keeps) = 10
    keep = adaptive_keep(torch.tensor([0.0, 1.0]), torch.arange(15.0), keeps=(10, 8, 6, 4))
    assert keep.tolist() == [10, 10]


def test_filtered_advantages_use_the_kept_rewards_only():
    # kept rewards 1, 0, 1 (the last response is rejected): μ_S = 2/3, σ_S (population) =
    # sqrt((1/9 + 4/9 + 1/9)/3) = sqrt(2/9) = 0.471405 → (1/3)/σ_S = 0.707107, (−2/3)/σ_S = −1.414214
    rewards = torch.tensor([[1.0, 0.0, 1.0, 0.0]])
    keep_mask = torch.tensor([[True, True, True, False]])
    adv = filtered_advantages(partial(grpo, unbiased=False), rewards, keep_mask)
    s = (2 / 9) ** 0.5 + 1e-6
    assert torch.allclose(adv, torch.tensor([[(1 / 3) / s, (-2 / 3) / s, (1 / 3) / s, 0.0]]), atol=1e-6)
    assert adv[0, 3] == 0


def test_filtered_advantages_match_a_loop_over_rows():
    # rows keep different counts; the batched-by-count version must equal one call per row
    g = torch.Generator().manual_seed(1)
    rewards = torch.rand(12, 6, generator=g)
    keep = torch.randint(1, 7, (12,), generator=g)
    keep_mask = shortest(rewards, torch.randint(1, 50, (12, 6), generator=g), keep)
    fn = partial(grpo, unbiased=False)
    adv = filtered_advantages(fn, rewards, keep_mask)
    for p in range(12):
        idx = keep_mask[p].nonzero().squeeze(1)
        expected = torch.zeros(6)
        expected[idx] = fn(rewards[p, idx].unsqueeze(0)).squeeze(0)
        assert torch.allclose(adv[p], expected), p
