import pytest

from rlvr.eval.stats import mean_pass_at_k, pass_at_k


def test_pass_at_k_by_hand():
    # n = 5 samples, c = 2 correct
    assert pass_at_k(5, 2, 1) == pytest.approx(0.4)            # k = 1 is c/n
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - 3 / 10)     # 1 − C(3,2)/C(5,2) = 0.7
    assert pass_at_k(5, 2, 3) == pytest.approx(1 - 1 / 10)     # 1 − C(3,3)/C(5,3) = 0.9
    assert pass_at_k(5, 2, 4) == 1.0                            # n − c = 3 < 4: a hit is certain
    assert pass_at_k(5, 0, 3) == 0.0 and pass_at_k(5, 5, 1) == 1.0


def test_unbiased_estimator_is_not_the_naive_power_formula():
    # 1 − (1 − c/n)^k = 1 − 0.6² = 0.64 for n = 5, c = 2, k = 2; the unbiased value is 0.7
    assert pass_at_k(5, 2, 2) != pytest.approx(1 - (1 - 2 / 5) ** 2)


def test_mean_and_errors():
    assert mean_pass_at_k([(4, 0), (4, 4)], 2) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
