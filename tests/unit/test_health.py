"""Run-time warnings for runs that cannot learn (issue 9 item 9)."""
import io

from rlvr.health import RunHealth


def test_mostly_failed_rewards_warn_once():
    out = io.StringIO()
    health = RunHealth(stream=out)
    health.check(1, {"reward/failed_frac": 0.5}, False)
    assert out.getvalue() == ""  # half failing: a flaky verifier, not yet a dead run
    health.check(2, {"reward/failed_frac": 0.9, "reward/timeouts": 29, "reward/errors": 29}, False)
    health.check(3, {"reward/failed_frac": 1.0}, False)
    text = out.getvalue()
    assert text.count("WARNING") == 1 and "step 2: 90% of the completions" in text and "29 verifier calls timed out" in text


def test_all_zero_advantages_warn_after_three_steps_in_a_row():
    out = io.StringIO()
    health = RunHealth(stream=out)
    for step, zero in enumerate([True, True, False, True, True], start=1):
        health.check(step, {}, zero)
    assert out.getvalue() == ""  # the run of zeros was broken at step 3
    health.check(6, {}, True)
    health.check(7, {}, None)  # a step that trained nothing does not count either way
    health.check(8, {}, True)
    text = out.getvalue()
    assert text.count("WARNING") == 1 and "steps 4–6: every advantage was 0" in text
