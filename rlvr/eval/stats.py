"""The statistics of `rlvr eval`, as pure functions: unbiased pass@k, maj@k, the percentile
bootstrap over problems and the Wilson interval for a binomial proportion.

pass@k (Chen et al. 2021, "Evaluating Large Language Models Trained on Code", Eq. 1): with n
samples of a problem of which c are correct,

    pass@k = 1 − C(n − c, k) / C(n, k)

the chance that a uniformly drawn k-subset of the n samples holds a correct one; averaged over
problems it is an unbiased estimate of the model's pass@k. It is computed as a product, so no
large binomial is ever formed. Never estimate it as 1 − (1 − c/n)^k or from the first k samples
(both biased; ALGORITHMS.md §17f).

maj@k: the same expectation over the k-subsets of the n samples, of "the majority answer of
the subset is correct"; see `maj_at_k`.
"""
from __future__ import annotations

import math
from statistics import NormalDist
from typing import Sequence

import numpy as np

LEVEL = 0.95
BOOTSTRAP_RESAMPLES = 1000


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k of one problem with `c` correct among `n` samples (needs k ≤ n)."""
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


def _scaled_binomials(s: int, top: int, p: float) -> np.ndarray:
    """C(s, x)·p^x·(1−p)^(s−x) for x = 0..min(s, top): binomial probabilities, all ≤ 1, so that
    products of them neither overflow nor lose precision as C(s, x) itself would."""
    xs = np.arange(min(s, top) + 1)
    if p >= 1.0:  # k = n: every sample is drawn
        return (xs == s).astype(float)
    log = (np.array([math.lgamma(s + 1) - math.lgamma(x + 1) - math.lgamma(s - x + 1) for x in xs])
           + xs * math.log(p) + (s - xs) * math.log1p(-p))
    return np.exp(log)


def _times(poly: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """`poly` (degree on axis 0, any trailing axes) times the 1-D polynomial `factor`,
    truncated to poly's length: a sum of shifted copies, one per term of `factor`."""
    out = np.zeros_like(poly)
    for x, w in enumerate(factor[:len(poly)]):
        if w:
            out[x:] += w * poly[:len(poly) - x]
    return out


def maj_at_k(sizes: Sequence[int], correct: Sequence[bool], n: int, k: int) -> float:
    """maj@k of one problem whose `n` samples gave answers in clusters of `sizes` (the
    equivalence classes of the answers; `correct[j]`: cluster j's answer is right), the other
    n − Σ sizes samples giving no answer.

    Definition: draw k of the n samples uniformly without replacement; the answers in the draw
    vote, samples without an answer abstain; the largest cluster in the draw wins, a tie
    between t clusters is broken uniformly at random, and a draw where nobody answers scores 0.
    maj@k is the probability that the winner is correct — for k = n, the majority of all n
    samples. Averaged over problems it estimates, without bias, the maj@k of k fresh samples
    (the same argument as for Chen et al.'s pass@k: each k-subset is a draw of k samples).

    Computed exactly (no sampling of subsets): a draw takes x_j samples from cluster j with
    probability Π_j C(s_j, x_j)·C(u, x_u) / C(n, k) (multivariate hypergeometric). Summing over
    the draw's largest count v, and for each v over which clusters reach it, is a polynomial
    product: a cluster that can reach v contributes Σ_{x<v} C(s, x) z^x + C(s, v) z^v·(tie
    mark), a smaller one Σ_x C(s, x) z^x; the coefficient of z^k, with the ties counted per
    correct and wrong cluster, gives Σ P(tie set) · (#correct tied)/(#tied). Each C(s, x) is
    scaled by p^x (1−p)^(s−x), p = k/n (a common factor p^k (1−p)^(n−k) of every draw), which
    keeps every number in [0, 1]. Cost: O(k² · clusters) small array additions.
    """
    if k < 1:
        raise ValueError(f"maj@k needs k ≥ 1, got {k}")
    if k > n:
        raise ValueError(f"maj@{k} needs at least {k} samples per problem, got {n}")
    if len(sizes) != len(correct) or any(s < 1 for s in sizes) or sum(sizes) > n:
        raise ValueError(f"bad clusters {list(sizes)} (correct {list(correct)}) for n={n}")
    if not any(correct):
        return 0.0
    if k == n:  # one draw, all the samples: the vote itself (and much cheaper than the general sum)
        top = max(sizes)
        tied = [ok for s, ok in zip(sizes, correct) if s == top]
        return sum(tied) / len(tied)
    p = k / n
    unanswered = _scaled_binomials(n - sum(sizes), k, p)
    free = np.zeros(k + 1)  # product over the clusters too small to reach the current v
    free[:len(unanswered)] = unanswered
    clusters = sorted(zip(sizes, correct))
    total, small = 0.0, 0
    for v in range(1, min(k, max(sizes)) + 1):
        while clusters[small][0] < v:  # clusters[small] can no longer reach v: its every count is below it
            free = _times(free, _scaled_binomials(clusters[small][0], k, p))
            small += 1
        n_right = sum(1 for _, ok in clusters[small:] if ok)
        n_wrong = len(clusters) - small - n_right
        ties = np.array([[r / (r + w) if r else 0.0 for w in range(n_wrong + 1)] for r in range(n_right + 1)])
        # poly[d, r, w]: the draws of total degree d from the contenders in which r right and w
        # wrong clusters reach exactly v and none exceeds it
        poly = np.zeros((k + 1, n_right + 1, n_wrong + 1))
        poly[0, 0, 0] = 1.0
        for s, ok in clusters[small:]:
            weights = _scaled_binomials(s, v, p)
            below = _times(poly, weights[:v])
            if ok:
                below[v:, 1:, :] += weights[v] * poly[:k + 1 - v, :-1, :]
            else:
                below[v:, :, 1:] += weights[v] * poly[:k + 1 - v, :, :-1]
            poly = below
        # draws whose degrees add to k: contenders d, the rest k − d
        total += float(np.einsum("d,drw,rw->", free[::-1], poly, ties))
    return total / float(_scaled_binomials(n, k, p)[k])


def majority_clusters(labels: Sequence[int | None], correct: Sequence[bool]) -> tuple[list[int], list[bool]]:
    """(sizes, correct) of the clusters named by per-sample `labels` (None: no answer); a
    cluster is correct when its first member is (its representative, as majority.py's
    clusters are represented by their first answer)."""
    sizes: dict[int, int] = {}
    right: dict[int, bool] = {}
    for label, ok in zip(labels, correct):
        if label is None:
            continue
        sizes[label] = sizes.get(label, 0) + 1
        right.setdefault(label, bool(ok))
    return list(sizes.values()), [right[c] for c in sizes]


def bootstrap_ci(values: Sequence[float] | np.ndarray, *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0,
                 level: float = LEVEL) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-problem `values`: the problems are
    resampled with replacement `resamples` times (seeded), and the interval is the central
    `level` share of the resampled means. It reflects which problems happened to be drawn —
    the variation that matters when the set is a sample of a task — and the sampling noise of
    per-problem scores, since each problem's value moves with it. (Efron & Tibshirani 1993, §13.)"""
    x = np.asarray(values, dtype=float)
    if x.ndim != 1 or len(x) == 0:
        raise ValueError(f"bootstrap_ci needs a non-empty 1-D sequence, got shape {x.shape}")
    if resamples < 1:
        raise ValueError(f"resamples must be at least 1, got {resamples}")
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, 2_000_000 // len(x))  # resampled indices held at once, to bound memory
    for start in range(0, resamples, chunk):
        rows = min(chunk, resamples - start)
        means[start:start + rows] = x[rng.integers(0, len(x), size=(rows, len(x)))].mean(axis=1)
    tail = (1.0 - level) / 2
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)


def wilson_interval(successes, trials, level: float = LEVEL):
    """Wilson score interval (Wilson 1927) of a binomial proportion: the p whose score test
    |p̂ − p| ≤ z·sqrt(p(1−p)/n) accepts, i.e.

        (p̂ + z²/2n ± z·sqrt(p̂(1−p̂)/n + z²/4n²)) / (1 + z²/n)

    Unlike p̂ ± z·sqrt(p̂(1−p̂)/n) it stays inside [0, 1] and keeps close to its nominal coverage
    at small n and at p̂ near 0 or 1. Works on scalars or numpy arrays alike; (low, high)."""
    x = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if np.any(n < 1) or np.any(x < 0) or np.any(x > n):
        raise ValueError(f"need 0 <= successes <= trials and trials >= 1, got {successes} of {trials}")
    z = NormalDist().inv_cdf(0.5 + level / 2)
    phat = x / n
    centre = (phat + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(phat * (1 - phat) / n + z * z / (4 * n * n))
    low, high = np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


# ---------------------------------------------------------------------------- across seeds
# `rlvr compare` summarises a handful of seeds per method, where the bootstrap is useless (3
# values have 10 distinct resamples) and the normal quantile too narrow; the Student t
# interval with seeds − 1 degrees of freedom is the textbook answer. scipy is not a
# dependency, so the t distribution is computed here from the regularised incomplete beta.
def _incomplete_beta(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b), by the continued fraction of Numerical Recipes
    (3rd ed., §6.4, modified Lentz), used on the side of x where it converges fast."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x > (a + 1.0) / (a + b + 2.0):  # the fraction converges slowly here: use I_x(a,b) = 1 − I_{1−x}(b,a)
        return 1.0 - _incomplete_beta(b, a, 1.0 - x)
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)) / a
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    f = d
    for m in range(1, 500):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            f *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return front * f


def student_t_cdf(t: float, dof: float) -> float:
    """P(T ≤ t) for Student's t with `dof` degrees of freedom:
    1 − ½·I_{dof/(dof+t²)}(dof/2, ½) for t ≥ 0, and by symmetry below."""
    if dof <= 0:
        raise ValueError(f"need dof > 0, got {dof}")
    tail = 0.5 * _incomplete_beta(dof / 2.0, 0.5, dof / (dof + t * t))
    return 1.0 - tail if t >= 0 else tail


def student_t_quantile(p: float, dof: float) -> float:
    """The t with P(T ≤ t) = p, by bisection on `student_t_cdf` (monotone; 200 halvings reach
    the float resolution of any bracket below 1e30)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"need 0 < p < 1, got {p}")
    if p < 0.5:
        return -student_t_quantile(1.0 - p, dof)
    low, high = 0.0, 1.0
    while student_t_cdf(high, dof) < p:
        high *= 2.0
    for _ in range(200):
        mid = 0.5 * (low + high)
        if student_t_cdf(mid, dof) < p:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def t_interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float, float]:
    """(mean, low, high): the Student t interval of the mean of `values` (e.g. one number per
    seed), mean ± t_{(1+level)/2, n−1} · s/√n with s the sample standard deviation. Needs at
    least 2 values; equal values give a zero-width interval."""
    x = np.asarray(values, dtype=float)
    if len(x) < 2:
        raise ValueError(f"a t interval needs at least 2 values, got {len(x)}")
    mean = float(x.mean())
    half = student_t_quantile(0.5 + level / 2, len(x) - 1) * float(x.std(ddof=1)) / math.sqrt(len(x))
    return mean, mean - half, mean + half


def paired_t_test(a: Sequence[float], b: Sequence[float], level: float = LEVEL) -> dict:
    """Paired t-test of a − b over matched pairs (the same seeds): the mean difference, its t
    interval, t = mean/(s/√n) and the two-sided p-value with n − 1 degrees of freedom. When
    every difference is equal (s = 0) the p-value is 0 for a non-zero difference, else 1."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if len(a) != len(b):
        raise ValueError(f"paired values need equal lengths, got {len(a)} and {len(b)}")
    mean, low, high = t_interval(d, level)
    se = float(d.std(ddof=1)) / math.sqrt(len(d))
    if se == 0.0:
        t, p = (math.copysign(math.inf, mean), 0.0) if mean != 0.0 else (0.0, 1.0)
    else:
        t = mean / se
        p = 2.0 * (1.0 - student_t_cdf(abs(t), len(d) - 1))
    return {"diff_mean": mean, "ci": [low, high], "t": t, "dof": len(d) - 1, "p_value": p}
