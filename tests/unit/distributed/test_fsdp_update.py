"""The trainer's update in 2 gloo processes with FSDP2-sharded weights equals the 1-process
update on the same batch, for every REDUCE entry: each process runs its share of every
mini-batch's rows with the whole mini-batch's denominators, and the gradients are summed.
Plain SGD with lr 1, so the weight change is the gradient (Adam would magnify rounding)."""
import copy

import pytest
import torch

from rlvr.algos import REDUCE
from rlvr.batching import collate
from rlvr.config import load_config
from rlvr.methods import PolicyGradient, TrainBatch, update_policy
from rlvr.methods.objective import score_old_and_ref
from rlvr.models import tiny_model
from rlvr.rollout.base import SamplingParams
from rlvr.rollout.hf import HFEngine
from tests.unit.distributed.gloo import in_processes

pytestmark = pytest.mark.scale  # several processes: `make test-scale` (CI runs it after `make test`)

# 3 prompts × 4 samples in 2 mini-batches of 6; the zero advantages (skipped rows) leave 4 and 3
# rows to run, shared 2/2 and 2/1 — with micro-batches of 1 the second process makes a
# stand-in pass
ADV = [1.0, -1.0, 0.5, -0.5, 0.0, 0.0, 0.0, 0.0, 2.0, -1.0, 0.0, -1.0]


def _cfg(reduce: str, micro: int = 1, **algo):
    return load_config(None, {"model": {"path": "tiny"}, "rollout": {"prompts_per_step": 3, "group_size": 4},
                              "algo": {"reduce": reduce, "mini_batch_size": 6, **algo},
                              "optim": {"lr": 1.0, "grad_clip": 0.0, "micro_batch_size": micro}})


def _setup(reduce: str, **algo):
    model, tok = tiny_model(0)
    prompts = [tok(p).input_ids for p in ("1+1=", "a longer prompt here", "x")]
    comps = HFEngine(model, tok, seed=0).generate(prompts, 4, SamplingParams(max_new_tokens=9))
    return model, collate(prompts, comps, tok.pad_token_id), _cfg(reduce, **algo)


def _update(model, batch, cfg, parallel=None):
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    train = TrainBatch(batch, torch.tensor(ADV), torch.zeros(0), PolicyGradient(cfg, model, None).terms())
    score_old_and_ref(model, None, train, cfg)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=cfg.optim.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    kw = {} if parallel is None else {"parallel": parallel}
    metrics = update_policy(model, train, cfg=cfg, optimizer=opt, scheduler=sched, step=1, **kw)
    return before, metrics


def _sharded(rank, world, reduce, algo):
    from rlvr.distributed.parallel import DataParallel
    from rlvr.distributed.state import full_weights

    model, batch, cfg = _setup(reduce, **algo)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    parallel = DataParallel(rank, world)
    parallel.shard(model)
    _, metrics = _update(model, batch, cfg, parallel)
    after = full_weights(model)
    return {"delta": {n: before[n] - after[n] for n in after}, "metrics": metrics}


def _one_process(reduce, algo):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as in each of the 2 processes, so that the completions are the same
    try:
        model, batch, cfg = _setup(reduce, **algo)
        before, metrics = _update(model, batch, cfg)
    finally:
        torch.set_num_threads(threads)
    return {"delta": {n: before[n] - p.detach() for n, p in model.named_parameters()}, "metrics": metrics}


# every reduction; then two epochs (π_old scored, rows permuted) with micro-batches of 2
CASES = [(r, {}) for r in sorted(REDUCE)] + [("token_mean", {"epochs": 2, "micro": 2})]


IDS = [f"{r}{'-2epochs' if a else ''}" for r, a in CASES]


def _sharded_cases(rank, world, cases):
    return [_sharded(rank, world, reduce, algo) for reduce, algo in cases]


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    """Every case in one pair of processes: a spawn and a process group cost seconds each."""
    got = in_processes(_sharded_cases, 2, tmp_path_factory.mktemp("fsdp"), CASES)[0]  # gathered on the first
    return dict(zip(IDS, got))


@pytest.mark.parametrize("reduce,algo", CASES, ids=IDS)
def test_two_sharded_processes_take_the_one_process_update(sharded, request, reduce, algo):
    want = _one_process(reduce, algo)
    got = sharded[request.node.callspec.id]
    assert got["delta"].keys() == want["delta"].keys()
    moved = 0.0
    for name, d in want["delta"].items():
        assert torch.allclose(got["delta"][name], d, atol=1e-6, rtol=0), (name, (got["delta"][name] - d).abs().max())
        moved = max(moved, float(d.abs().max()))
    assert moved > 1e-3  # the update is not trivially zero
    for key in ("loss", "grad_norm", "sequences_trained"):
        assert got["metrics"][key] == pytest.approx(want["metrics"][key], rel=1e-5, abs=1e-7), key
