"""`RolloutQueue` (rlvr/samplers/pipeline.py) with a fake engine whose weights are a version
number: which weights sampled each step's rollout, that generation overlaps the update, that
weights never change during a generation, and that a queue restored from its state goes on
exactly as the one that was saved."""
import threading
import time

import pytest
import torch

from rlvr.samplers.base import Rollout
from rlvr.samplers.pipeline import RolloutQueue
from rlvr.types import Completion


class FakeEngine:
    """Weights = a version number; `collect` records which version sampled the rollout."""

    def __init__(self, hold_s: float = 0.0):
        self.version, self.hold_s = 0, hold_s
        self.busy = False
        self.calls: list[tuple[int, int, str]] = []  # (weights it sampled from, version told, thread)
        self.pushes_during_generation = 0

    def collect(self, version: int) -> Rollout:
        self.busy = True
        time.sleep(self.hold_s)  # long enough for the training thread to run into a push
        self.calls.append((self.version, version, threading.current_thread().name))
        self.busy = False
        n = len(self.calls)
        return Rollout(samples=[], prompts=[], completions=[Completion([n], [0.0], str(n), "stop", 0)] * 2,
                       rewards=torch.zeros(1, 2), correct=[False, False], verdicts=[{}, {}],
                       metrics={"call": float(n)})

    def push(self, model) -> None:
        self.pushes_during_generation += self.busy
        self.version = model


def _run(queue: RolloutQueue, steps, train_s: float = 0.0):
    got = []
    for step in steps:
        rollout = queue.next(step)
        time.sleep(train_s)
        got.append((step, rollout.policy_versions, dict(rollout.metrics)))
        queue.advance(step, step, updated=True)  # the "model" after step t is version t
    return got


@pytest.mark.parametrize("k", [1, 2, 3])
def test_step_j_trains_on_the_weights_after_step_j_minus_1_minus_k(k):
    # With k steps of look-ahead, rollout j is generated after the push of step j − 1 − k
    # (none before step 1): version max(0, j − 1 − k), staleness min(j − 1, k).
    # k = 2, steps 1..6: versions 0 0 0 1 2 3; staleness 0 1 2 2 2 2.
    engine = FakeEngine(hold_s=0.01)
    queue = RolloutQueue(engine.collect, engine.push, max_staleness=k, steps=6)
    got = _run(queue, range(1, 7), train_s=0.01)
    queue.close()
    for step, versions, metrics in got:
        version = max(0, step - 1 - k)
        assert versions == [version, version]
        assert metrics["staleness/mean"] == metrics["staleness/max"] == min(step - 1, k)
        assert metrics["policy_version"] == version
    # the weights that really sampled each rollout are the version it was labelled with
    assert [(w, v) for w, v, _ in engine.calls] == [(max(0, j - 1 - k),) * 2 for j in range(1, 7)]
    assert all(name.startswith("rlvr-rollout") for _, _, name in engine.calls)
    assert engine.pushes_during_generation == 0


def test_no_rollout_is_generated_past_the_last_step():
    engine = FakeEngine()
    queue = RolloutQueue(engine.collect, engine.push, max_staleness=2, steps=3)
    _run(queue, range(1, 4))
    queue.close()
    assert len(engine.calls) == 3


def test_the_next_rollouts_generation_overlaps_this_steps_training():
    # Step 1's training waits (up to 5 s) for rollout 2's generation to start: it can only
    # start on the generation thread while the training thread is in step 1.
    started = threading.Event()
    engine = FakeEngine()

    def collect(version):
        if len(engine.calls) == 1:
            started.set()
        return engine.collect(version)

    queue = RolloutQueue(collect, engine.push, max_staleness=1, steps=3)
    queue.next(1)
    assert started.wait(5.0), "rollout 2 was not being generated while step 1 trained"
    queue.advance(1, 1, updated=True)
    queue.next(2)
    queue.close()


def test_synchronous_steps_collect_in_the_training_thread():
    engine = FakeEngine()
    queue = RolloutQueue(engine.collect, engine.push, max_staleness=0, steps=4)
    got = _run(queue, range(1, 5))
    assert [v for _, v, _ in got] == [[s - 1, s - 1] for s in range(1, 5)]
    assert not any(k.startswith(("staleness/", "time/rollout_wait")) for _, _, m in got for k in m)
    assert [(w, v) for w, v, _ in engine.calls] == [(s - 1, s - 1) for s in range(1, 5)]
    assert {name for _, _, name in engine.calls} == {threading.current_thread().name}


def test_a_restored_queue_trains_what_the_saved_one_would_have():
    straight_engine = FakeEngine()
    straight = RolloutQueue(straight_engine.collect, straight_engine.push, max_staleness=2, steps=7)
    want = _run(straight, range(1, 8))
    straight.close()

    engine = FakeEngine()
    first = RolloutQueue(engine.collect, engine.push, max_staleness=2, steps=7)
    got = _run(first, range(1, 4))
    state = first.state_dict()  # after step 3: rollouts 4, 5, 6 generated, not trained
    first.close()
    assert [s for s, _, _ in state["ready"]] == [4, 5, 6] and state["version"] == 3
    calls_before = len(engine.calls)
    second = RolloutQueue(engine.collect, engine.push, max_staleness=2, steps=7)
    second.load_state_dict(state, step=3)
    engine.push(3)  # the restored run's engine loads the checkpoint's weights
    got += _run(second, range(4, 8))
    second.close()
    assert len(engine.calls) - calls_before == 1  # only rollout 7 was generated again
    assert [(s, v, m["call"]) for s, v, m in got] == [(s, v, m["call"]) for s, v, m in want]


def test_a_generation_error_reaches_the_training_loop():
    def collect(version):
        raise ValueError("verifier pool gone")

    queue = RolloutQueue(collect, lambda m: None, max_staleness=1, steps=3)
    with pytest.raises(ValueError, match="verifier pool gone"):
        queue.next(1)
    queue.close()


def test_negative_staleness_is_refused():
    with pytest.raises(ValueError, match="0 or more"):
        RolloutQueue(lambda v: None, lambda m: None, max_staleness=-1, steps=3)
