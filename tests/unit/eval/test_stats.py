"""rlvr.eval.stats against brute force and against coverage: pass@k and maj@k equal the average
over every k-subset of the n samples; the 95% intervals cover a known accuracy 93–97% of the time."""
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

from rlvr.eval.evaluate import evaluate
from rlvr.eval.stats import (bootstrap_ci, maj_at_k, majority_clusters, pass_at_k, wilson_interval)


# ----------------------------------------------------------------------------- pass@k
def _pass_brute(n: int, c: int, k: int) -> Fraction:
    """Share of the k-subsets of n samples (the first c correct) that hold a correct one."""
    subsets = list(itertools.combinations(range(n), k))
    return Fraction(sum(any(i < c for i in s) for s in subsets), len(subsets))


def test_pass_at_k_is_the_mean_over_every_k_subset():
    for n in range(1, 9):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(float(_pass_brute(n, c, k)), abs=1e-12), (n, c, k)


def test_pass_at_k_is_stable_where_the_binomials_are_huge():
    # C(10000, 5000) has 3009 digits, far beyond a float; one correct sample in n = 10000:
    # 1 − C(9999, 5000)/C(10000, 5000) = 1 − (10000 − 5000)/10000 = 0.5
    assert pass_at_k(10_000, 1, 5000) == pytest.approx(0.5, abs=1e-12)
    # against exact integer arithmetic where it is still feasible
    exact = 1 - Fraction(math.comb(300 - 7, 120), math.comb(300, 120))
    assert pass_at_k(300, 7, 120) == pytest.approx(float(exact), rel=1e-12)


def test_k_above_n_is_refused():
    with pytest.raises(ValueError, match="pass@5 needs at least 5 samples per problem, got 4"):
        pass_at_k(4, 1, 5)
    with pytest.raises(ValueError, match="maj@5 needs at least 5 samples per problem, got 4"):
        maj_at_k([2], [True], 4, 5)
    # evaluate refuses before it generates anything (so no engine is needed to see it)
    with pytest.raises(ValueError, match="need at least 8 samples per problem, got n=4"):
        evaluate(None, [], None, None, max_new_tokens=1, ks=[1, 8], n=4)


# ----------------------------------------------------------------------------- maj@k
def _maj_brute(labels: list, right: dict, k: int) -> Fraction:
    """Average over every k-subset of: the share of correct answers among those tied for the
    most votes (a random tie-break's chance of a correct winner); 0 when nobody answered."""
    total = Fraction(0)
    subsets = list(itertools.combinations(range(len(labels)), k))
    for s in subsets:
        votes: dict = {}
        for i in s:
            if labels[i] is not None:
                votes[labels[i]] = votes.get(labels[i], 0) + 1
        if votes:
            top = max(votes.values())
            tied = [a for a, v in votes.items() if v == top]
            total += Fraction(sum(right[a] for a in tied), len(tied))
    return total / len(subsets)


def _partitions(m: int, largest: int | None = None):
    """The multisets of positive cluster sizes adding to m, each once (largest first)."""
    largest = m if largest is None else largest
    if m == 0:
        yield []
        return
    for first in range(min(m, largest), 0, -1):
        for rest in _partitions(m - first, first):
            yield [first, *rest]


def _configurations(n: int):
    """Every problem of n samples up to relabelling: u abstain, the rest in clusters of the given
    sizes, and for each run of equal sizes how many of them are correct."""
    for answered in range(n + 1):
        for sizes in _partitions(answered):
            runs = [(s, sizes.count(s)) for s in sorted(set(sizes), reverse=True)]
            for rights in itertools.product(*[range(count + 1) for _, count in runs]):
                cl, ok = [], []
                for (s, count), r in zip(runs, rights):
                    cl += [s] * count
                    ok += [True] * r + [False] * (count - r)
                yield cl, ok


def test_maj_at_k_is_the_mean_over_every_k_subset():
    checked = 0
    for n in range(1, 9):
        for sizes, ok in _configurations(n):
            labels = [j for j, s in enumerate(sizes) for _ in range(s)] + [None] * (n - sum(sizes))
            right = dict(enumerate(ok))
            for k in range(1, n + 1):
                want = float(_maj_brute(labels, right, k))
                assert maj_at_k(sizes, ok, n, k) == pytest.approx(want, abs=1e-12), (sizes, ok, n, k)
                checked += 1
    assert checked > 2000  # every configuration of up to 8 samples, every k


def test_maj_at_k_by_hand():
    # samples a, a, b with a right: of the 3 pairs, {a, a} elects a; {a, b} (twice) is a tie
    # won by a half the time: (1 + ½ + ½) / 3 = 2/3
    assert maj_at_k([2, 1], [True, False], 3, 2) == pytest.approx(2 / 3)
    # k = 1 is the share of correct samples: 2 of 3
    assert maj_at_k([2, 1], [True, False], 3, 1) == pytest.approx(2 / 3)
    # k = n is the plain majority of all samples: a (2 votes) beats b (1)
    assert maj_at_k([2, 1], [True, False], 3, 3) == 1.0
    # one right answer and one abstention, k = 1: the right sample half the time, else no vote
    assert maj_at_k([1], [True], 2, 1) == pytest.approx(0.5)
    # a right minority loses every subset of 3 of (b, b, b, a): b has ≥ 2 of the 3 votes
    assert maj_at_k([3, 1], [False, True], 4, 3) == pytest.approx(0.0, abs=1e-12)


def test_maj_at_k_never_exceeds_pass_at_k_with_one_right_answer():
    """With a single correct cluster, a correct winner needs a correct sample in the draw, so
    maj@k ≤ pass@k; at k = 1 the two are equal (a single vote)."""
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(2, 40))
        labels = [int(x) if x >= 0 else None for x in rng.integers(-1, 5, size=n)]
        sizes, _ = majority_clusters(labels, [False] * n)
        ok = [j == 0 for j in range(len(sizes))]
        c = sizes[0] if sizes else 0
        for k in (1, 2, n // 2 or 1, n):
            assert maj_at_k(sizes, ok, n, k) <= pass_at_k(n, c, k) + 1e-12
        assert maj_at_k(sizes, ok, n, 1) == pytest.approx(pass_at_k(n, c, 1))


def test_maj_at_k_stays_finite_for_many_samples():
    # 1000 samples, k = 500: C(1000, 500) ≈ 2.7e299 sits at the edge of a float; a cluster of 600
    # holds the majority of almost every draw of 500 (mean 300 of it, sd ≈ 7.7, against ≤ 200
    # from any other), so maj@500 is 1 to many digits
    assert maj_at_k([600, 200, 150, 50], [True, False, False, False], 1000, 500) == pytest.approx(1.0, abs=1e-9)


def test_clusters_are_correct_by_their_first_member():
    # labels 0, –, 1, 0: cluster 0 (2 samples, its first one correct), cluster 1 (1, wrong)
    assert majority_clusters([0, None, 1, 0], [True, False, False, False]) == ([2, 1], [True, False])


# ----------------------------------------------------------------------------- intervals
def test_wilson_by_hand():
    # 8 of 10, z = 1.95996: centre (0.8 + z²/20)/(1 + z²/10) = 0.99207/1.38415 = 0.71674, half-width
    # z/1.38415 · sqrt(0.016 + z²/400) = 1.41600 · 0.160012 = 0.22658
    low, high = wilson_interval(8, 10)
    assert (low, high) == pytest.approx((0.71674 - 0.22658, 0.71674 + 0.22658), abs=2e-5)
    # 0 of 16: the lower end is 0 and the upper end z²/(n + z²) = 3.8415/19.8415 = 0.19361
    assert wilson_interval(0, 16) == pytest.approx((0.0, 0.19361), abs=1e-5)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_bootstrap_is_seeded_and_near_the_normal_interval_on_many_problems():
    values = np.array([1.0] * 200 + [0.0] * 200)  # p̂ = 0.5, N = 400: 1.96·sqrt(0.25/400) = 0.049
    low, high = bootstrap_ci(values, seed=7)
    assert (low, high) == bootstrap_ci(values, seed=7) != bootstrap_ci(values, seed=8)
    assert low == pytest.approx(0.5 - 0.049, abs=0.01) and high == pytest.approx(0.5 + 0.049, abs=0.01)
    assert bootstrap_ci([0.25] * 9) == (0.25, 0.25)


REPETITIONS = 1000
PROBLEMS = 200  # rlvr eval's default --size


def test_wilson_exact_coverage_at_200_problems():
    """Wilson's coverage oscillates with p (Brown, Cai & DasGupta 2001); summed exactly over the
    binomial distribution of the number solved, it stays within 93–97% across accuracies 0.3–0.9
    at 200 problems (measured: 93.8% to 96.2%)."""
    x = np.arange(PROBLEMS + 1)
    low, high = wilson_interval(x, PROBLEMS)
    log_comb = np.array([math.lgamma(PROBLEMS + 1) - math.lgamma(j + 1) - math.lgamma(PROBLEMS - j + 1) for j in x])
    for p in np.arange(0.30, 0.91, 0.01):
        pmf = np.exp(log_comb + x * math.log(p) + (PROBLEMS - x) * math.log1p(-p))
        coverage = pmf[(low <= p) & (p <= high)].sum()
        assert 0.93 <= coverage <= 0.97, (p, coverage)


def test_95_percent_intervals_cover_a_known_accuracy_93_to_97_percent_of_the_time():
    """Each repetition draws a problem set of 200 problems, each solved with probability 0.7 (the
    true accuracy); both intervals should miss 0.7 in about 5% of the 1,000 repetitions. With
    1,000 repetitions the coverage's standard error is sqrt(0.95·0.05/1000) = 0.7 points, so an
    interval whose true coverage is 95% lands in 93–97% unless it is off by ~3 standard errors.
    (Measured with seed 0: Wilson 95.8%, bootstrap 96.3%; over seeds 0–5 both stayed in 94.4–96.3%.)"""
    truth = 0.7
    solved = np.random.default_rng(0).random((REPETITIONS, PROBLEMS)) < truth
    low, high = wilson_interval(solved.sum(axis=1), PROBLEMS)
    wilson = np.mean((low <= truth) & (truth <= high))
    boot = np.mean([lo <= truth <= hi for lo, hi in (bootstrap_ci(row, seed=r) for r, row in enumerate(solved))])
    assert 0.93 <= wilson <= 0.97, wilson
    assert 0.93 <= boot <= 0.97, boot


def test_bootstrap_of_pass_at_k_covers_the_true_pass_at_k():
    """Problems of three difficulties (solved per sample with probability 0.1, 0.5 or 0.9, equally
    often), n = 4 samples each: the true pass@2 is the mean of 1 − (1 − p)² = (0.19 + 0.75 + 0.99)/3
    = 0.64333. The unbiased estimator's interval must cover it as often as the level says
    (measured with seed 0: 94.7%; over seeds 0–5: 94.7–95.4%)."""
    truth = (0.19 + 0.75 + 0.99) / 3
    rng = np.random.default_rng(0)
    p = rng.choice([0.1, 0.5, 0.9], size=(REPETITIONS, PROBLEMS))
    c = rng.binomial(4, p)
    per_c = np.array([pass_at_k(4, j, 2) for j in range(5)])
    covered = [lo <= truth <= hi for lo, hi in (bootstrap_ci(per_c[row], seed=r) for r, row in enumerate(c))]
    assert 0.93 <= np.mean(covered) <= 0.97, np.mean(covered)
