"""Unbiased pass@k (Chen et al. 2021, "Evaluating Large Language Models Trained on Code",
Eq. 1): with n samples of which c are correct,

    pass@k = 1 − C(n − c, k) / C(n, k)

computed as a product so that no large binomial is formed. Never estimate it as
1 − (1 − c/n)^k or from the first k samples (both biased; ALGORITHMS.md §17f).
"""
from __future__ import annotations

from typing import Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per problem, got {n}")
    if n - c < k:
        return 1.0
    prob_all_wrong = 1.0
    for i in range(n - c + 1, n + 1):  # C(n-c, k)/C(n, k) = Π_{i=n-c+1}^{n} (1 − k/i)
        prob_all_wrong *= 1.0 - k / i
    return 1.0 - prob_all_wrong


def mean_pass_at_k(counts: Sequence[tuple[int, int]], k: int) -> float:
    """Mean over problems of pass@k, from (n, c) per problem."""
    return sum(pass_at_k(n, c, k) for n, c in counts) / max(1, len(counts))
