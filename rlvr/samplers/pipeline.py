"""Asynchronous, off-policy steps: `rollout.max_staleness: k` (docs/scale.md, "Asynchronous steps").

With k = 0 (the default) a step collects its rollout from the weights of the step before and
the engine takes the new weights after the update: the synchronous loop, unchanged.

With k > 0 the rollouts of the next k steps are generated while this step trains, by one
background thread that owns the engine between weight pushes:

    step t:  take rollout t (waiting if it is not ready) → train on it →
             wait for the generation in flight → push the new weights (version t) →
             start generating rollout t + k + 1 from them

so rollout j comes from the weights after step max(0, j − 1 − k): its staleness, the updates
between the weights that sampled it and the weights it trains, is min(j − 1, k). The engine
never changes weights during a generation (a push waits for it), generations run one at a
time in step order, and every random draw is the engine's, the stream's or the sampler's own
— so an asynchronous run is as reproducible as a synchronous one, and a checkpoint (taken
once the generation in flight has finished) holds the rollouts already generated, which a
resumed run trains on exactly as the uninterrupted one would.

The importance weights of `algo.correction` (TIS/MIS) apply to stale samples unchanged: the
loss's old log-probs are the trainer's at the start of the update (the proximal policy) and a
sample's `rollout_logp` are those of the weights that generated it, so the correction's ratio
π_old/π_sampler covers both the engine mismatch and the staleness — the decoupled objective of
AReaL (Fu et al. 2025, arXiv 2505.24298, Eq. 5); `mismatch/*` measures both together.

The engine must own its weights (the optimizer changes the trainer's in place while a
generation runs): the local backend gives it a copy (`rlvr.rollout.build_local_engine`), Ray
workers and vLLM hold their own. Several training processes refuse k > 0, since their
collectives cannot interleave with a generation that runs on the sharded model.
"""
from __future__ import annotations

import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

from rlvr.samplers.base import Rollout

Collect = Callable[[int], Rollout]  # policy version (training steps done) -> that step's rollout


class RolloutQueue:
    """The rollouts of the steps to come, generated up to `max_staleness` steps ahead.

    `collect(version)` generates and scores one step's rollout with the engine's current
    weights (`version`: how many training steps they have had); `push(model)` gives the engine
    new weights. Both are called from one thread at a time: `next` and `advance` are the
    training loop's, the generation thread runs `collect` between them.
    """

    def __init__(self, collect: Collect, push: Callable[[object], None], *, max_staleness: int,
                 steps: int) -> None:
        if max_staleness < 0:
            raise ValueError(f"max_staleness is {max_staleness}; allowed values: 0 or more steps")
        self.collect, self.push = collect, push
        self.k, self.steps = max_staleness, steps
        self.version = 0  # training steps whose update the engine's weights hold
        self._pending: deque[tuple[int, int, Future]] = deque()  # (step it is for, version, result)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="rlvr-rollout") if max_staleness else None

    def next(self, step: int) -> Rollout:
        """The rollout step `step` trains on, its `policy_versions` filled in."""
        if not self.k:
            rollout = self.collect(step - 1)
            rollout.policy_versions = [step - 1] * len(rollout.completions)
            return rollout
        if not self._pending:  # the first step (or a run extended past its end): fill the queue
            self.version = step - 1
            self._submit_up_to(step + self.k)
        for_step, version, future = self._pending.popleft()
        if for_step != step:
            raise RuntimeError(f"the rollout queue holds step {for_step}'s rollout where step {step}'s was due")
        t = time.time()
        rollout = future.result()  # a generation's error is raised here, in the training loop
        waited = time.time() - t
        stale = step - 1 - version
        rollout.policy_versions = [version] * len(rollout.completions)
        rollout.metrics.update({"staleness/mean": float(stale), "staleness/max": float(stale),
                                "policy_version": float(version), "time/rollout_wait_s": waited})
        return rollout

    def advance(self, step: int, model, *, updated: bool) -> None:
        """After step `step`'s update: the engine takes the new weights (once no generation
        runs), and the rollout `max_staleness` + 1 steps ahead starts from them."""
        self.settle()
        if updated:
            self.push(model)
        self.version = step
        if self.k:
            self._submit_up_to(step + 1 + self.k)

    def settle(self) -> None:
        """Wait until no generation runs: before the engine is used for anything else
        (evaluation) or its state is read (a checkpoint)."""
        for _, _, future in self._pending:
            future.exception()  # waits; an error stays in the future for `next` to raise

    # -- checkpointing ------------------------------------------------------------------
    def state_dict(self) -> dict:
        """The rollouts generated but not trained yet (after `settle`; empty with k = 0)."""
        self.settle()
        return {"version": self.version,
                "ready": [(s, v, f.result()) for s, v, f in self._pending]}

    def load_state_dict(self, state: dict, *, step: int) -> None:
        self.version = state.get("version", step)
        self._pending.clear()
        for for_step, version, rollout in state.get("ready", []):
            done: Future = Future()
            done.set_result(rollout)
            self._pending.append((for_step, version, done))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    # -- the generation thread ------------------------------------------------------------
    def _submit_up_to(self, last: int) -> None:
        """Queue the generation of every step up to `last` (at most the run's last step) not
        queued yet, from the engine's current weights."""
        queued = self._pending[-1][0] if self._pending else self.version
        for for_step in range(queued + 1, min(last, self.steps) + 1):
            self._pending.append((for_step, self.version, self._pool.submit(self.collect, self.version)))


__all__ = ["Collect", "RolloutQueue"]
