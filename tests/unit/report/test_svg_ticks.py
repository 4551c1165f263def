"""Tick labels of the report's charts: distinct ticks get distinct labels."""
from rlvr.report.svg import nice_ticks, tick_labels


def test_close_ticks_keep_the_decimals_that_tell_them_apart():
    # an entropy curve spanning 4.5720..4.5790: span/4 = 0.00175 rounds up to a step of
    # 2 × 10⁻³, ticks 4.572 … 4.578 (3 significant digits printed all four as 4.57); the step
    # needs three decimals
    ticks = nice_ticks(4.5720, 4.5790)
    assert ticks == [4.572, 4.574, 4.576, 4.578]
    assert tick_labels(ticks) == ["4.572", "4.574", "4.576", "4.578"]
    assert tick_labels([4.5725, 4.575, 4.5775]) == ["4.5725", "4.5750", "4.5775"]  # a step of 0.0025: four


def test_round_ticks_stay_short():
    assert tick_labels(nice_ticks(0, 20)) == ["0", "5", "10", "15", "20"]
    assert tick_labels([0.0028, 0.003, 0.0032]) == ["0.0028", "0.0030", "0.0032"]
    assert tick_labels([-2e-09, -4e-09]) == ["-2.00e-09", "-4.00e-09"]  # tiny spans keep the exponent form
