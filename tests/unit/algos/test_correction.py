"""Rollout-vs-trainer corrections, each on a hand example.

Three sequences; δ = old_logp − rollout_logp per token (padding holds ±50, which must not count):
  row 0: δ = (ln 3, 0, −ln 2), 3 tokens ⇒ token ratios (3, 1, ½), sequence ratio 1.5
  row 1: δ = (ln 1.5, ln 1.2, pad), 2 tokens ⇒ token ratios (1.5, 1.2), sequence ratio 1.8
  row 2: δ = (−ln 2, pad, pad), 1 token ⇒ token ratio ½, sequence ratio ½
6 tokens in all.
"""
import math

import pytest
import torch

from rlvr.algos.correction import CORRECTIONS

DELTA = torch.tensor([[math.log(3), 0.0, -math.log(2)],
                      [math.log(1.5), math.log(1.2), 50.0],
                      [-math.log(2), -50.0, 50.0]])
MASK = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
ROLLOUT = torch.full((3, 3), -1.0)
OLD = ROLLOUT + DELTA


def _close(x, expected):
    return torch.isclose(x, torch.tensor(expected), atol=1e-5, rtol=0)


def _check_mismatch(m):
    # |δ| mean over the 6 tokens: (ln 3 + 0 + ln 2 + ln 1.5 + ln 1.2 + ln 2)/6 = 0.512116
    assert _close(m["mismatch/logp_abs_diff"], 0.5121156)
    assert _close(m["mismatch/ratio_max"], 3.0)  # the padded e^50 does not count


def test_none_gives_unit_weights_and_still_measures_the_mismatch():
    w, m = CORRECTIONS["none"](OLD, ROLLOUT, MASK)
    assert torch.equal(w, torch.ones(3, 3))
    assert _close(m["correction/weight_mean"], 1.0) and m["correction/clipped_frac"] == 0
    _check_mismatch(m)


def test_tis_token_truncates_each_token_ratio_at_the_cap():
    w, m = CORRECTIONS["tis_token"](OLD, ROLLOUT, MASK, cap=2.0)
    # (3, 1, ½) → (2, 1, ½); (1.5, 1.2); (½)
    real = w[MASK > 0]
    assert torch.allclose(real, torch.tensor([2.0, 1.0, 0.5, 1.5, 1.2, 0.5]), atol=1e-6)
    assert _close(m["correction/weight_mean"], 6.7 / 6)      # (2+1+½+1.5+1.2+½)/6 = 1.116667
    assert _close(m["correction/clipped_frac"], 1 / 6)       # only the ratio-3 token
    _check_mismatch(m)


def test_tis_seq_truncates_the_sequence_ratio_and_repeats_it_over_the_row():
    w, m = CORRECTIONS["tis_seq"](OLD, ROLLOUT, MASK, cap=1.6)
    # sequence ratios (1.5, 1.8, ½) → (1.5, 1.6, ½), the same for every token of the row
    assert torch.allclose(w, torch.tensor([[1.5] * 3, [1.6] * 3, [0.5] * 3]), atol=1e-6)
    assert _close(m["correction/weight_mean"], 8.2 / 6)      # (3·1.5 + 2·1.6 + 1·½)/6 = 1.366667
    assert _close(m["correction/clipped_frac"], 1 / 3)       # row 1 of 3
    _check_mismatch(m)


def test_mis_seq_drops_rows_outside_the_threshold_on_either_side():
    w, m = CORRECTIONS["mis_seq"](OLD, ROLLOUT, MASK, threshold=1.6)
    # keep [1/1.6, 1.6] = [0.625, 1.6]: row 0 (1.5) kept, row 1 (1.8) above, row 2 (½) below
    assert torch.equal(w, torch.tensor([[1.0] * 3, [0.0] * 3, [0.0] * 3]))
    assert _close(m["correction/weight_mean"], 0.5)          # 3 kept tokens of 6
    assert _close(m["correction/clipped_frac"], 2 / 3)
    _check_mismatch(m)


@pytest.mark.parametrize("name", sorted(CORRECTIONS))
def test_weights_are_detached_and_finite_for_extreme_log_ratios(name):
    # δ = ±100 would overflow exp; clamped to ±20 first. old_logp carrying a gradient must not leak one.
    old = torch.tensor([[100.0, -100.0]], requires_grad=True)
    w, m = CORRECTIONS[name](old, torch.zeros(1, 2), torch.ones(1, 2))
    assert not w.requires_grad and all(not v.requires_grad for v in m.values())
    assert torch.isfinite(w).all() and all(torch.isfinite(v) for v in m.values())
    assert _close(m["mismatch/ratio_max"] / math.exp(20.0), 1.0)


def test_bad_caps_are_refused():
    with pytest.raises(ValueError, match="cap"):
        CORRECTIONS["tis_token"](OLD, ROLLOUT, MASK, cap=0.0)
    with pytest.raises(ValueError, match="threshold"):
        CORRECTIONS["mis_seq"](OLD, ROLLOUT, MASK, threshold=1.0)
