"""Every REDUCE entry over a batch split across 2 gloo processes gives the 1-process gradient
(to 1e-6) when each process reduces with the global totals and the gradients are summed —
and a different one with each process's own denominators (the classic bug), so the check
can fail."""
import pytest
import torch

from rlvr.algos import REDUCE
from rlvr.distributed.reduce import global_totals, micro_batches, share
from rlvr.methods.objective import BUDGETED_REDUCTIONS
from tests.unit.distributed.gloo import in_processes

pytestmark = pytest.mark.scale  # several processes: `make test-scale` (CI runs it after `make test`)

B, T = 7, 6  # 7 rows: shares of 4 and 3, unequal token counts


def _problem():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(B, T, generator=g)
    lengths = torch.tensor([6, 1, 3, 0, 5, 2, 4])  # a row with no token, rows of every length
    mask = (torch.arange(T)[None, :] < lengths[:, None]).float()
    theta = torch.randn(T, generator=g)
    return x, mask, theta


def _loss(name, theta, x, mask, **totals):
    values = x * theta + 0.5 * x * theta.pow(2)  # [b, T], non-linear in θ
    extra = {"budget": 8.0} if name in BUDGETED_REDUCTIONS else {}
    return REDUCE[name](values, mask, **extra, **totals)


def _grad(name, x, mask, theta, **totals):
    theta = theta.clone().requires_grad_(True)
    _loss(name, theta, x, mask, **totals).backward()
    return theta.grad


def _one_process(name):
    x, mask, theta = _problem()
    return _grad(name, x, mask, theta)


def _shared(rank, world, name):
    import torch.distributed as dist

    x, mask, theta = _problem()
    rows = share(torch.arange(B), rank, world)
    totals = global_totals(mask[rows])
    grad = _grad(name, x[rows], mask[rows], theta, **totals)
    dist.all_reduce(grad)  # summed, never averaged
    naive = _grad(name, x[rows], mask[rows], theta)  # each process's own denominators ...
    dist.all_reduce(naive)
    naive /= world  # ... and averaged gradients: the classic data-parallel bug
    return {"grad": grad, "naive": naive, "totals": totals}


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gloo")
    return {name: in_processes(_shared, 2, folder / name, name) for name in sorted(REDUCE)}


@pytest.mark.parametrize("name", sorted(REDUCE))
def test_two_processes_give_the_one_process_gradient(two_processes, name):
    want = _one_process(name)
    for result in two_processes[name]:
        assert torch.allclose(result["grad"], want, atol=1e-6, rtol=0), (result["grad"], want)
        # local denominators differ: the test would catch a process reducing its share alone
        assert (result["naive"] - want).abs().max() > 1e-4


@pytest.mark.parametrize("name", sorted(REDUCE))
def test_global_totals_are_the_whole_batch_totals(two_processes, name):
    _, mask, _ = _problem()
    for result in two_processes[name]:
        t = result["totals"]
        assert float(t["total_tokens"]) == float(mask.sum()) and t["total_seqs"] == B
        assert torch.equal(t["batch_lengths"], mask.sum(-1))


def test_micro_batches_cover_every_row_once_with_the_same_count_everywhere():
    rows = torch.arange(11) * 3
    for micro in (1, 2, 4, 20):
        parts = [micro_batches(rows, micro, r, 3) for r in range(3)]
        assert len({len(p) for p in parts}) == 1  # every process makes as many passes
        counted = torch.cat([r for p in parts for r, counts in p if counts])
        assert torch.equal(counted, rows)
        assert all(len(r) <= micro for p in parts for r, _ in p)
    assert micro_batches(rows[:0], 2, 0, 2) == []
    # fewer rows than processes: the last one makes a stand-in pass only
    assert [c for _, c in micro_batches(rows[:1], 4, 1, 2)] == [False]
