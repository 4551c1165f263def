"""`rlvr train CONFIG --nproc N --run.backend=ray`: the N training processes as Ray actors (a
trainer group) instead of torchrun's processes, in one placement group of N bundles (1 CPU
each, plus 1 GPU each when the model runs on CUDA), so the cluster reserves all of them or none.

Each actor is given the environment torchrun would give it (RANK, WORLD_SIZE, LOCAL_RANK,
MASTER_ADDR and MASTER_PORT: rank 0's node and a port free there) and calls the same
`rlvr.train.train(cfg, resume=...)`; `processes_from_env` then joins the process group as under
torchrun, and the rollout engine becomes the Ray pool driven by rank 0
(`rlvr/distributed/ray_rollout.py`). The `rlvr train` process (the driver) starts the group,
waits for every rank and reports the first failure with its rank; the other ranks, which would
wait in a collective for the failed one, are then stopped. docs/scale.md, "Ray: the trainer as
a group".

Ray is imported inside the functions: the core runs, and this module imports, without it.
"""
from __future__ import annotations

import os
import socket
import sys
import time
from dataclasses import dataclass

STARTUP_TIMEOUT_S = 300.0  # an actor's start: a fresh process imports Ray; a cluster may add nodes
GRACE_S = 5.0  # after a rank fails, how long to collect the others' outcomes (one failure drags others)


class GroupFailed(RuntimeError):
    """The trainer group stopped: a training process raised or died (the message names it and
    its error), or the cluster had no room for the group."""


@dataclass(frozen=True)
class Place:
    """Where a rank's actor landed: its node's IP address and the GPUs Ray gave it."""

    node: str
    gpus: tuple[str, ...] = ()


def rank_envs(places: list[Place], port: int) -> list[dict[str, str]]:
    """The environment of each rank, as torchrun would set it: rank 0's node is the master.
    LOCAL_RANK counts the ranks on the same node. Ray shows an actor only its own GPU; each
    rank is shown instead every GPU of its node's ranks, in local-rank order, so that GPU
    LOCAL_RANK is its own (`DataParallel.from_env` selects it) and NCCL sees its peers."""
    envs = []
    for rank, place in enumerate(places):
        assert len(place.gpus) <= 1, "a trainer bundle holds at most one GPU"
        peers = [r for r, p in enumerate(places) if p.node == place.node]
        env = {"RANK": str(rank), "WORLD_SIZE": str(len(places)), "LOCAL_RANK": str(peers.index(rank)),
               "LOCAL_WORLD_SIZE": str(len(peers)), "MASTER_ADDR": places[0].node, "MASTER_PORT": str(port)}
        if place.gpus:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(places[r].gpus[0] for r in peers)
        envs.append(env)
    return envs


def await_ranks(refs: list, *, wait, get, grace_s: float = GRACE_S) -> list:
    """Every rank's result, in rank order; `GroupFailed` as soon as one fails, naming every rank
    that failed within `grace_s` after it (the first to fail heads the message). `wait(refs)`
    returns the refs done so far (at least one, or none after its timeout) and `get(ref)` a
    rank's result or its error raised, as `ray.wait`/`ray.get` do."""
    rank_of = {ref: rank for rank, ref in enumerate(refs)}
    results, failures, deadline = [None] * len(refs), [], None
    pending = list(refs)
    while pending and (deadline is None or time.monotonic() < deadline):
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        for ref in wait(pending, timeout=timeout):
            pending.remove(ref)
            try:
                results[rank_of[ref]] = get(ref)
            except Exception as e:  # noqa: BLE001 - any error of a rank is reported with its rank
                failures.append((rank_of[ref], e))
                deadline = deadline or time.monotonic() + grace_s
    if failures:
        (rank, first), others = failures[0], failures[1:]
        also = "".join(f"; process {r} too: {_one_line(e)}" for r, e in others)
        raise GroupFailed(f"training process {rank} of {len(refs)} failed: {_one_line(first)}{also}") from first
    return results


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"


class TrainerRank:
    """The body of one trainer actor."""

    def place(self) -> Place:
        import ray

        return Place(ray.util.get_node_ip_address(), tuple(str(g) for g in ray.get_gpu_ids()))

    def free_port(self) -> int:
        """A port free on this node now, for rank 0's process-group store (torchrun's standalone
        mode picks one the same way)."""
        with socket.socket() as s:
            s.bind(("", 0))
            return s.getsockname()[1]

    def train(self, cfg, resume: bool, env: dict[str, str]) -> dict:
        os.environ.update(env)  # before anything starts CUDA or the process group
        import transformers

        from rlvr.train import train

        transformers.utils.logging.set_verbosity_error()  # as `rlvr train` quiets its own process
        transformers.utils.logging.disable_progress_bar()
        return train(cfg, resume=resume)


def train_group(cfg, nproc: int, *, resume: bool = False) -> dict:
    """Train in `nproc` Ray actors; rank 0's summary, or `GroupFailed`. Joins `run.ray_address`,
    or starts a local Ray with room for the trainers and the rollout workers (and stops it)."""
    import ray
    from ray.exceptions import GetTimeoutError
    from ray.util.placement_group import placement_group, remove_placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    from rlvr.distributed.launch import check_nproc
    from rlvr.rollout.ray_pool import connect

    check_nproc(nproc)
    run = cfg.run
    started = connect(run.ray_address, object_store_mb=run.ray_object_store_mb, workers=nproc + cfg.rollout.workers)
    group, actors = None, []
    try:
        gpu = 1.0 if _on_cuda(cfg.model.device, ray) else 0.0
        bundle = {"CPU": 1.0, **({"GPU": gpu} if gpu else {})}
        group = placement_group([bundle] * nproc, strategy="PACK")
        try:
            ray.get(group.ready(), timeout=STARTUP_TIMEOUT_S if run.ray_address else 30)
        except GetTimeoutError:
            raise GroupFailed(f"the Ray cluster has no room for {nproc} training processes of {bundle} each "
                             f"(available: {ray.available_resources()}); lower --nproc") from None
        print(f"starting {nproc} training processes as Ray actors (a placement group of {nproc} bundles of "
              f"{bundle})", flush=True)
        actor_class = ray.remote(TrainerRank)
        actors = [actor_class.options(num_cpus=1, num_gpus=gpu, scheduling_strategy=PlacementGroupSchedulingStrategy(
            group, placement_group_bundle_index=r)).remote() for r in range(nproc)]
        places = ray.get([a.place.remote() for a in actors], timeout=STARTUP_TIMEOUT_S)
        envs = rank_envs(places, ray.get(actors[0].free_port.remote()))
        refs = [a.train.remote(cfg, resume, env) for a, env in zip(actors, envs)]
        return await_ranks(refs, wait=_ray_wait, get=_ray_get)[0]
    finally:
        for actor in actors:  # a rank still waiting for a failed one would wait for ever
            ray.kill(actor)
        if group is not None:
            remove_placement_group(group)
        if started:
            ray.shutdown()


def _on_cuda(device: str, ray) -> bool:
    """Whether the trainers take a GPU each: `model.device` cuda, or auto on a cluster with GPUs."""
    return device.startswith("cuda") or (device == "auto" and ray.cluster_resources().get("GPU", 0) > 0)


def _ray_wait(refs: list, *, timeout: float | None) -> list:
    import ray

    return ray.wait(refs, num_returns=1, timeout=timeout)[0]


def _ray_get(ref):
    """A rank's result; its own exception when it raised (Ray's wrapper printed with the rank's
    traceback first, to stderr), Ray's error when its process died."""
    import ray
    from ray.exceptions import RayTaskError

    try:
        return ray.get(ref)
    except RayTaskError as e:
        print(str(e), file=sys.stderr, flush=True)  # the rank's own traceback
        raise e.cause if isinstance(e.cause, Exception) else e from None
