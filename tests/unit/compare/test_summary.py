"""The numbers of `rlvr compare` against hand-derived values: the t interval over seeds, the
paired t-test, the reward AUC, curves aligned on generated tokens, and the segments that
stop a run at the first step whose cumulative tokens reach the budget."""
import math

import pytest

from rlvr.compare.run import Segment, token_segment
from rlvr.compare.summary import generated_tokens, reward_auc, step_curve, token_curve
from rlvr.eval.stats import paired_t_test, student_t_cdf, student_t_quantile, t_interval


def test_the_t_distribution_matches_its_closed_forms_and_tables():
    # dof 1 is the Cauchy distribution: F(t) = 1/2 + atan(t)/π; dof 2: F(t) = 1/2 + t / (2 sqrt(2 + t²))
    for t in (-3.0, -0.5, 0.0, 0.7, 4.0, 30.0):
        assert student_t_cdf(t, 1) == pytest.approx(0.5 + math.atan(t) / math.pi, abs=1e-12)
        assert student_t_cdf(t, 2) == pytest.approx(0.5 + t / (2 * math.sqrt(2 + t * t)), abs=1e-12)
    # inverting dof 2's form at p = 0.975: q = 2p − 1 = 0.95, t = q·sqrt(2 / (1 − q²)) = 4.302653
    assert student_t_quantile(0.975, 2) == pytest.approx(0.95 * math.sqrt(2 / (1 - 0.95 ** 2)), rel=1e-10)
    assert student_t_quantile(0.975, 1) == pytest.approx(math.tan(math.pi * 0.475), rel=1e-10)  # 12.7062
    # printed tables: t_{0.975, 4} = 2.776, t_{0.975, 30} = 2.042, and the normal's 1.960 far out
    assert student_t_quantile(0.975, 4) == pytest.approx(2.776445, abs=1e-6)
    assert student_t_quantile(0.975, 30) == pytest.approx(2.042272, abs=1e-6)
    assert student_t_quantile(0.975, 1e6) == pytest.approx(1.959966, abs=1e-5)
    assert student_t_quantile(0.025, 4) == pytest.approx(-2.776445, abs=1e-6)


def test_t_interval_by_hand():
    # values 1, 2, 3: mean 2, s = sqrt(((−1)² + 0² + 1²)/2) = 1, s/√3 = 0.577350;
    # t_{0.975, 2} = 4.302653, half-width 4.302653 × 0.577350 = 2.484138
    mean, lo, hi = t_interval([1.0, 2.0, 3.0])
    assert mean == 2.0 and lo == pytest.approx(2 - 2.484138, abs=1e-6) and hi == pytest.approx(2 + 2.484138, abs=1e-6)
    assert t_interval([0.5, 0.5]) == (0.5, 0.5, 0.5)  # no spread, no width
    with pytest.raises(ValueError, match="at least 2 values"):
        t_interval([1.0])


def test_paired_t_test_by_hand():
    # a − b = 0.1, 0.2, 0.1: mean 0.133333, s = sqrt((0.0333² + 0.0667² + 0.0333²)/2) = 0.057735,
    # se = s/√3 = 0.033333, t = 4.0 with 2 dof. Two-sided p = 2(1 − F(4)), F(4) = 1/2 + 4/(2 sqrt 18)
    # = 0.971405, so p = 0.057191; the CI is 0.133333 ± 4.302653 × 0.033333 = ±0.143422
    res = paired_t_test([0.5, 0.6, 0.7], [0.4, 0.4, 0.6])
    assert res["diff_mean"] == pytest.approx(0.133333, abs=1e-6) and res["t"] == pytest.approx(4.0)
    assert res["dof"] == 2 and res["p_value"] == pytest.approx(2 * (0.5 - 4 / (2 * math.sqrt(18))), rel=1e-9)
    assert res["ci"] == pytest.approx([0.133333 - 0.143422, 0.133333 + 0.143422], abs=1e-6)
    # the pairing matters: the same numbers unpaired would hide the constant lead in the seed-to-seed spread
    assert paired_t_test([0.3, 0.5, 0.9], [0.2, 0.4, 0.8])["p_value"] == 0.0  # every seed +0.1: s = 0
    assert paired_t_test([0.3, 0.5], [0.3, 0.5])["p_value"] == 1.0


def test_reward_auc_by_hand():
    # steps 1..4 with rewards 0, 0.5, 0.5, 1: trapezoids (0+0.5)/2 + (0.5+0.5)/2 + (0.5+1)/2 = 0.25 + 0.5 + 0.75
    # = 1.5 over a width of 3 steps: 0.5
    assert reward_auc([0.0, 0.5, 0.5, 1.0]) == pytest.approx(0.5)
    # a curve that rises late scores below one that rises early, at the same final reward
    # (0 + 0 + 0.5)/3 = 1/6 against (0.5 + 1 + 1)/3 = 5/6
    assert reward_auc([0.0, 0.0, 0.0, 1.0]) == pytest.approx(1 / 6)
    assert reward_auc([0.0, 1.0, 1.0, 1.0]) == pytest.approx(5 / 6)
    assert reward_auc([0.25]) == 0.25 and math.isnan(reward_auc([]))


def test_generated_tokens_undo_the_samplers_rate():
    # 94 tokens in 0.41530680656 s, as a tiny run logged it
    assert generated_tokens({"tokens/generated_per_s": 94 / 0.41530680656, "time/generate_s": 0.41530680656}) == 94


def test_curves_are_aligned_on_tokens_by_interpolation():
    # seed A generates 100 tokens a step, seed B 50 then 150; step → (cumulative tokens, value)
    a = {1: (100.0, 0.0), 2: (200.0, 1.0), 3: (300.0, 1.0)}
    b = {1: (50.0, 0.0), 2: (200.0, 0.5), 3: (250.0, 0.5)}
    curve = token_curve([a, b])
    # the grid: both seeds' token counts inside [max first, min last] = [100, 250]: 100, 200, 250
    assert curve["tokens"] == [100.0, 200.0, 250.0]
    # at 100 tokens A is 0; B between (50, 0) and (200, 0.5): 0.5 × 50/150 = 1/6; mean 1/12
    # at 200: (1 + 0.5)/2; at 250: A between (200, 1) and (300, 1) is 1, B 0.5
    assert curve["mean"] == pytest.approx([1 / 12, 0.75, 0.75])
    # by step, the seeds' mean token counts go with each step
    by_step = step_curve([a, b])
    assert by_step["step"] == [1, 2, 3] and by_step["tokens"] == [75.0, 200.0, 275.0]
    assert by_step["mean"] == pytest.approx([0.0, 0.75, 0.75])
    # t interval of (1, 0.5): mean 0.75, s = 0.353553, se = 0.25, t_{0.975,1} = 12.7062 → ±3.17655
    assert by_step["hi"][1] == pytest.approx(0.75 + 12.706205 * 0.25, abs=1e-5)
    # a step one seed lacks is left out, never filled in
    assert step_curve([a, {1: (50.0, 0.0), 3: (250.0, 0.5)}])["step"] == [1, 3]


@pytest.mark.parametrize("tokens, finished_at, expected", [
    # nothing trained: at most 96 tokens a step, a budget of 300 → 299 // 96 = 3 steps, stopping short
    ([], None, Segment(3, False)),
    # 3 steps of 90 = 270: 30 left ≤ the largest step seen (90), so the next step may be the last
    ([90, 90, 90], None, Segment(4, True)),
    # 100 tokens seen at most, 80 done → 220 left: 219 // 100 = 2 more steps, short of the budget
    ([80], None, Segment(3, False)),
    # the budget reached at step 3 (100 + 100 + 120 ≥ 300) and the run finished there
    ([100, 100, 120], 3, None),
    # reached at step 3 but the run went on to 4 (a step longer than any before): back to 3
    ([100, 100, 120, 90], None, Segment(3, True, drop_from=3)),
    # reached at its last step, trained without the evaluation after training: redo that step
    ([100, 100, 120], None, Segment(3, True, drop_from=3)),
])
def test_token_segments(tokens, finished_at, expected):
    assert token_segment(tokens, 300, 96, finished_at=finished_at) == expected
