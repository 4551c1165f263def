"""Rollout workers as Ray actors (`run.backend: ray`, `rollout.workers: N`).

`RayRolloutPool` is a `RolloutEngine` (rlvr/rollout/base.py), so the samplers, the evaluation
and the training loop use it unchanged: `generate` splits the prompts into one contiguous shard
per worker, each worker (a Ray actor holding its own copy of the policy and any engine of
`ENGINES`, `rollout.engine`) samples its shard, and the results come back prompt-major.
`update_weights` puts the trainable weights into Ray's object store once and every worker
loads them from there (no disk). The workers sit in a placement group of one bundle each
(1 CPU, plus `rollout.worker_gpus` GPUs), so the cluster reserves them all or none.

Seeds. The pool draws one seed per prompt from its own generator (checkpointed by
`state_dict`), and a worker samples each prompt's group in a call of its own seeded with it.
So a prompt's completions do not depend on which worker sampled it, nor on the other prompts
of its shard (no shared padding either): 1 and 2 workers give the same samples, and a shard
regenerated after a fault gives exactly the completions it would have. The price: a worker
decodes one group (G rows) at a time instead of `rollout.batch_size` rows. Greedy calls
(temperature 0, the held-out evaluation) need no seed and decode a shard in one call.

Faults. A worker that dies during a call (its process killed, its node lost) is replaced by a
new actor with the same engine, which loads the latest pushed weights; its shard — only its
shard, whose results never arrived — is sampled again with the same seeds, so nothing is lost
and nothing counted twice. Each replacement is reported on stdout. A worker that cannot start
(its engine does not import, the cluster has no room) stops the run with a RuntimeError
instead of being restarted forever.
"""
from __future__ import annotations

import copy
import dataclasses
import os
from typing import Sequence

import ray
import torch
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

from rlvr.rollout import build_engine
from rlvr.rollout.base import Prompt, SamplingParams
from rlvr.types import Completion

STARTUP_TIMEOUT_S = 300.0  # actor start: a fresh process imports torch and transformers
RESTARTS_PER_CALL = 3  # deaths of one shard's worker within one generate call before giving up


class RolloutWorker:
    """The body of one Ray actor: a copy of the policy and an engine of `ENGINES` over it."""

    def __init__(self, engine: str, model, tokenizer, *, dtype: str, batch_size: int, seed: int,
                 threads: int) -> None:
        torch.set_num_threads(threads)  # the bundle's CPUs: workers on one machine do not oversubscribe it
        device = "cuda" if ray.get_gpu_ids() else "cpu"
        self.model = model.to(device)
        self.engine = build_engine(engine, self.model, tokenizer, dtype=dtype, batch_size=batch_size, seed=seed)

    def ready(self) -> int:
        """The worker's process id, once its engine is built."""
        return os.getpid()

    def generate(self, prompts: list[Prompt], seeds: list[int] | None, n: int,
                 sampling: SamplingParams) -> list[list[Completion]]:
        """The n completions of each prompt: one seeded call per prompt, or (seeds None,
        greedy) one call for the shard."""
        if seeds is None:
            out = self.engine.generate(prompts, n, sampling)
            return [out[i * n:(i + 1) * n] for i in range(len(prompts))]
        return [self.engine.generate([p], n, dataclasses.replace(sampling, seed=s)) for p, s in zip(prompts, seeds)]

    def load_weights(self, weights: dict[str, torch.Tensor]) -> None:
        params = dict(self.model.named_parameters())
        missing = sorted(set(weights) - set(params))
        if missing:
            raise KeyError(f"the rollout worker's model has no parameter {', '.join(missing[:3])}")
        with torch.no_grad():
            for name, value in weights.items():
                params[name].copy_(value)
        self.engine.update_weights(self.model)


def connect(address: str, *, object_store_mb: int, workers: int) -> bool:
    """Join the Ray cluster at `address`, or start a local one sized for `workers`; True when
    this call started Ray (and `close` should stop it)."""
    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, log_to_driver=True)
    else:  # at least one CPU per worker, so that N workers fit on a machine with fewer cores
        ray.init(num_cpus=max(os.cpu_count() or 1, workers), object_store_memory=object_store_mb * 2**20,
                 include_dashboard=False, log_to_driver=True)
    return True


class RayRolloutPool:
    """`RolloutEngine` over `workers` Ray actors, each running the engine `engine`."""

    def __init__(self, engine: str, model, tokenizer, *, dtype: str = "float32", batch_size: int = 64,
                 seed: int = 0, workers: int = 1, address: str = "", object_store_mb: int = 512,
                 worker_gpus: float = 0.0) -> None:
        from ray.util.placement_group import placement_group
        from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

        self.started_ray = connect(address, object_store_mb=object_store_mb, workers=workers)
        self.generator = torch.Generator().manual_seed(seed)
        self.restarts = 0
        bundle = {"CPU": 1.0, **({"GPU": float(worker_gpus)} if worker_gpus else {})}
        self.group = placement_group([bundle] * workers, strategy="PACK")
        try:
            # a cluster may need time to add nodes; a full local one will not free up soon
            ray.get(self.group.ready(), timeout=STARTUP_TIMEOUT_S if address else 30)
        except GetTimeoutError:
            free, self.actors = ray.available_resources(), []
            self.close()
            raise RuntimeError(f"the Ray cluster has no room for {workers} rollout workers of {bundle} each "
                               f"(available: {free}); lower 'rollout.workers' or "
                               "'rollout.worker_gpus'") from None
        on_cpu = model if next(model.parameters()).device.type == "cpu" else copy.deepcopy(model).cpu()
        # put once: every worker, and every replacement, deserialises its copy from the object store
        self._model, self._tokenizer, self._weights = ray.put(on_cpu), ray.put(tokenizer), None
        self._options = dict(engine=engine, dtype=dtype, batch_size=batch_size, seed=seed, threads=1)
        self._actor_class = ray.remote(RolloutWorker)
        self._strategy = lambda i: PlacementGroupSchedulingStrategy(self.group, placement_group_bundle_index=i)
        self.gpus = float(worker_gpus)
        self.actors = [self._start(i) for i in range(workers)]
        try:
            self.pids = [self._wait_ready(i) for i in range(workers)]
        except RuntimeError:
            self.close()  # no half-started pool keeps its workers or its reservation
            raise

    # -- protocol ---------------------------------------------------------------------
    def generate(self, prompts: Sequence[Prompt], n: int, sampling: SamplingParams) -> list[Completion]:
        prompts = list(prompts)
        seeds = self._seeds(len(prompts), sampling)
        W = len(self.actors)
        bounds = [len(prompts) * w // W for w in range(W + 1)]  # contiguous shards, sizes differ by ≤ 1
        shards = {w: range(bounds[w], bounds[w + 1]) for w in range(W) if bounds[w] < bounds[w + 1]}
        groups: list[list[Completion] | None] = [None] * len(prompts)
        pending = {self._submit(w, shards[w], prompts, seeds, n, sampling): w for w in shards}
        deaths = dict.fromkeys(shards, 0)
        while pending:
            ref = ray.wait(list(pending), num_returns=1)[0][0]
            w = pending.pop(ref)
            try:
                result = ray.get(ref)
            except RayActorError as e:  # the worker died: a new one samples the same shard again
                deaths[w] += 1
                if deaths[w] > RESTARTS_PER_CALL:
                    raise RuntimeError(f"rollout worker {w} died {deaths[w]} times in one call; last: {e}") from e
                self._replace(w, type(e).__name__, len(shards[w]))
                pending[self._submit(w, shards[w], prompts, seeds, n, sampling)] = w
                continue
            except RayTaskError as e:  # the engine raised: the run stops with the engine's own error
                raise e.as_instanceof_cause() from None
            for i, group in zip(shards[w], result):
                groups[i] = [dataclasses.replace(c, prompt_index=i) for c in group]
        return [c for group in groups for c in group]

    def update_weights(self, model) -> None:
        # only what the trainer can change travels (a LoRA run pushes its adapters alone); the
        # frozen weights came with the model at the start
        self.push_weights({name: p.detach().cpu() for name, p in model.named_parameters() if p.requires_grad})

    def push_weights(self, weights: dict[str, torch.Tensor]) -> None:
        """Every worker copies `weights` (parameters of its model, by name) into its model and
        refreshes its engine: `update_weights` from weights gathered elsewhere (several
        training processes, rlvr/distributed/ray_rollout.py)."""
        self._weights = ray.put(weights)
        for w, ref in [(w, a.load_weights.remote(self._weights)) for w, a in enumerate(self.actors)]:
            try:
                ray.get(ref)
            except RayActorError as e:  # a replacement loads the new weights as it starts
                self._replace(w, type(e).__name__, 0)
            except RayTaskError as e:
                raise e.as_instanceof_cause() from None

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])

    def close(self) -> None:
        """Stop the workers and free their placement group (and Ray, if this pool started it)."""
        for actor in self.actors:
            ray.kill(actor)
        self.actors = []
        if self.group is not None:
            ray.util.remove_placement_group(self.group)
            self.group = None
        if self.started_ray:
            ray.shutdown()
            self.started_ray = False

    # -- the workers ------------------------------------------------------------------
    def _seeds(self, count: int, sampling: SamplingParams) -> list[int] | None:
        """One seed per prompt: from the pool's generator, or from a generator of the call's own
        `sampling.seed` (which leaves the pool's untouched); None for greedy decoding."""
        if sampling.temperature == 0:
            return None
        gen = self.generator if sampling.seed is None else torch.Generator().manual_seed(sampling.seed)
        return torch.randint(0, 2**62, (count,), generator=gen).tolist()

    def _submit(self, w: int, shard: range, prompts: list, seeds: list[int] | None, n: int,
                sampling: SamplingParams):
        part = [prompts[i] for i in shard]
        return self.actors[w].generate.remote(part, None if seeds is None else [seeds[i] for i in shard], n, sampling)

    def _start(self, w: int):
        actor = self._actor_class.options(num_cpus=1, num_gpus=self.gpus,
                                          scheduling_strategy=self._strategy(w))
        actor = actor.remote(self._options["engine"], self._model, self._tokenizer,
                             **{k: v for k, v in self._options.items() if k != "engine"})
        if self._weights is not None:  # a replacement starts from the trainer's current weights
            actor.load_weights.remote(self._weights)
        return actor

    def _wait_ready(self, w: int) -> int:
        try:
            return ray.get(self.actors[w].ready.remote(), timeout=STARTUP_TIMEOUT_S)
        except (RayActorError, RayTaskError, GetTimeoutError) as e:
            raise RuntimeError(f"rollout worker {w} (engine {self._options['engine']!r}) did not start: {e}") from None

    def _replace(self, w: int, why: str, prompts: int) -> None:
        ray.kill(self.actors[w])  # already dead, or unreachable: make sure it stays gone
        self.restarts += 1
        self.actors[w] = self._start(w)
        self.pids[w] = self._wait_ready(w)
        again = f"; sampling its {prompts} prompts again" if prompts else ""
        print(f"rollout worker {w} died ({why}); restarted it as process {self.pids[w]}{again}", flush=True)


def build_ray_engine(cfg, model, tokenizer):
    """The `ray` entry of `rlvr.rollout.BACKENDS`: the pool the config asks for — driven by the
    first process when several train (WORLD_SIZE > 1, as `processes_from_env` decides), which
    gives the others its completions."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        from rlvr.distributed.ray_rollout import rank_zero_rollout

        return rank_zero_rollout(cfg, model, tokenizer, build_ray_pool)
    return build_ray_pool(cfg, model, tokenizer)


def build_ray_pool(cfg, model, tokenizer) -> RayRolloutPool:
    """The pool of `rollout.workers` actors the config asks for, each starting from `model`."""
    r = cfg.rollout
    return RayRolloutPool(r.engine, model, tokenizer, dtype=r.dtype, batch_size=r.batch_size, seed=cfg.run.seed,
                          workers=r.workers, address=cfg.run.ray_address, object_store_mb=cfg.run.ray_object_store_mb,
                          worker_gpus=r.worker_gpus)
