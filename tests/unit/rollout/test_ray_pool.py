"""The Ray rollout pool (rlvr/rollout/ray_pool.py) on a local Ray of CPU workers: prompt-major
results that do not depend on the number of workers, weights pushed through the object store,
and a worker killed mid-call replaced with its prompts sampled again — nothing lost, nothing
counted twice. The engine contract itself runs on the pool in tests/contracts/test_engines.py."""
import copy
import os

import pytest
import torch

ray = pytest.importorskip("ray", reason="the Ray backend needs `pip install 'rlvr[ray]'`")

from rlvr.models import tiny_model  # noqa: E402
from rlvr.rollout import SamplingParams, build_engine  # noqa: E402
from rlvr.rollout.ray_pool import RayRolloutPool  # noqa: E402
from tests.conftest import ROOT  # noqa: E402

pytestmark = pytest.mark.scale  # several processes: `make test-scale` (CI runs it after `make test`)

SAMPLING = SamplingParams(max_new_tokens=4, temperature=1.0)
KILLED = "tests.ray_plugins:KilledOnceEngine"


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    """One small local Ray for the module; the workers inherit the kill folder's name (and can
    import `tests.ray_plugins`) from the driver's environment at start."""
    folder = tmp_path_factory.mktemp("kill")
    saved = {k: os.environ.get(k) for k in ("RLVR_TEST_KILL_DIR", "RLVR_TEST_KILL_AT", "PYTHONPATH")}
    os.environ.update(RLVR_TEST_KILL_DIR=str(folder), RLVR_TEST_KILL_AT="2",
                      PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), saved["PYTHONPATH"]])))
    ray.init(num_cpus=16, object_store_memory=100 * 2**20, include_dashboard=False)  # logical CPUs: several pools at once
    yield folder
    ray.shutdown()
    for k, v in saved.items():
        os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


@pytest.fixture
def pools(local_ray):
    made = []

    def make(engine="hf", workers=2, seed=0):
        model, tok = tiny_model(0)  # the same weights in every pool
        pool = RayRolloutPool(engine, model, tok, seed=seed, workers=workers)
        made.append(pool)
        return pool, model, tok
    yield make
    for pool in made:
        pool.close()


def _prompts(tok):
    return [tok(p).input_ids for p in ("1+1=", "0+1=", "a longer prompt", "x", "1+0=")]


def _tokens(out):
    return [(c.prompt_index, c.token_ids, c.finish_reason) for c in out]


def test_one_and_two_workers_give_the_same_samples_prompt_major(pools):
    one, model, tok = pools(workers=1)
    two, _, _ = pools(workers=2)
    prompts = _prompts(tok)  # 5 prompts: shards of 2 and 3
    a, b = one.generate(prompts, 3, SAMPLING), two.generate(prompts, 3, SAMPLING)
    assert [c.prompt_index for c in b] == [i for i in range(5) for _ in range(3)]
    assert _tokens(a) == _tokens(b)
    assert all(len(c.token_ids) == len(c.logprobs) for c in b)
    # the next call continues the pool's generator: new samples, still equal between the pools
    a2, b2 = one.generate(prompts, 3, SAMPLING), two.generate(prompts, 3, SAMPLING)
    assert _tokens(a2) == _tokens(b2) != _tokens(a)
    assert one.state_dict()["generator"].equal(two.state_dict()["generator"])


def test_greedy_calls_match_the_local_engine(pools):
    pool, model, tok = pools(workers=2)
    greedy = SamplingParams(max_new_tokens=4, temperature=0.0)
    local = build_engine("hf", copy.deepcopy(model), tok).generate(_prompts(tok), 1, greedy)
    assert _tokens(pool.generate(_prompts(tok), 1, greedy)) == _tokens(local)


def test_pushed_weights_reach_every_worker(pools):
    pool, model, tok = pools(workers=2)
    greedy = SamplingParams(max_new_tokens=3, temperature=0.0)
    before = [c.logprobs for c in pool.generate(_prompts(tok), 1, greedy)]
    changed = copy.deepcopy(model)
    with torch.no_grad():
        for p in changed.parameters():
            p.add_(0.05 * torch.randn_like(p))
    pool.update_weights(changed)
    after = pool.generate(_prompts(tok), 1, greedy)
    expected = build_engine("hf", changed, tok).generate(_prompts(tok), 1, greedy)
    assert [c.logprobs for c in after] != before
    assert _tokens(after) == _tokens(expected)  # both shards sample from the new weights
    for ours, theirs in zip(after, expected):
        assert torch.allclose(torch.tensor(ours.logprobs), torch.tensor(theirs.logprobs), atol=1e-5)


def test_a_killed_worker_is_replaced_and_its_prompts_sampled_again(pools, local_ray, capsys):
    """A worker process SIGKILLed in the middle of a call (its shard sampled, not yet returned):
    the call still returns every prompt's group once, equal to a run without the kill, and the
    replacement samples from the weights pushed before the kill."""
    (local_ray / "killed").unlink(missing_ok=True)
    changed, tok = tiny_model(0)
    with torch.no_grad():
        for p in changed.parameters():
            p.add_(0.05 * torch.randn_like(p))
    calm, _, _ = pools(engine="hf", workers=2)
    victim, _, _ = pools(engine=KILLED, workers=2)
    first_pids = list(victim.pids)
    for pool in (calm, victim):
        pool.update_weights(changed)
    prompts = _prompts(tok)
    (local_ray / "armed").touch()
    try:
        expected = calm.generate(prompts, 3, SAMPLING)
        got = victim.generate(prompts, 3, SAMPLING)  # each worker's 2nd prompt is its 2nd call
    finally:
        (local_ray / "armed").unlink()
    killed_pid = int((local_ray / "killed").read_text())
    assert killed_pid in first_pids and killed_pid not in victim.pids and victim.restarts == 1
    assert "died" in capsys.readouterr().out
    assert _tokens(got) == _tokens(expected)  # the lost shard sampled again, with its own seeds
    assert [c.prompt_index for c in got] == [i for i in range(5) for _ in range(3)]
    # the pools stay in step afterwards
    assert _tokens(victim.generate(prompts, 3, SAMPLING)) == _tokens(calm.generate(prompts, 3, SAMPLING))


def test_a_worker_that_cannot_start_stops_the_pool_with_the_reason(local_ray):
    model, tok = tiny_model(0)
    with pytest.raises(RuntimeError, match="did not start"):
        RayRolloutPool("tests.ray_plugins:NoSuchEngine", model, tok, workers=1)
