"""The trainer as a Ray group, without Ray: the environment each rank's actor is given
(`rank_envs`), a failed rank's error surfacing with its rank (`await_ranks`), and the rank-0
rollout engine of several processes (`RankZeroRollout`: rank 0 drives the pool, the others get
its completions, weights and state) over a stand-in for the process group. The whole runs, on a
local Ray, are tests/e2e/test_ray_trainer_group.py."""
import pytest
import torch

from rlvr.checkpoint import _tied_keys
from rlvr.distributed.parallel import DataParallel
from rlvr.distributed.ray_group import GroupFailed, Place, await_ranks, rank_envs
from rlvr.distributed.ray_rollout import RankZeroRollout, whole_model
from rlvr.models import tiny_model
from rlvr.rollout import SamplingParams


# -- rank_envs ------------------------------------------------------------------------------
def test_each_rank_gets_torchruns_environment_with_rank_0_as_master():
    envs = rank_envs([Place("10.0.0.1"), Place("10.0.0.1")], 29511)
    assert envs == [{"RANK": str(r), "WORLD_SIZE": "2", "LOCAL_RANK": str(r), "LOCAL_WORLD_SIZE": "2",
                     "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "29511"} for r in (0, 1)]


def test_local_ranks_count_the_ranks_of_each_node():
    envs = rank_envs([Place("a"), Place("b"), Place("a"), Place("b"), Place("b")], 1234)
    assert [e["LOCAL_RANK"] for e in envs] == ["0", "0", "1", "1", "2"]
    assert [e["LOCAL_WORLD_SIZE"] for e in envs] == ["2", "3", "2", "3", "3"]
    assert {e["MASTER_ADDR"] for e in envs} == {"a"}  # rank 0's node, wherever a rank runs


def test_a_gpu_rank_sees_its_nodes_gpus_and_local_rank_indexes_its_own():
    # Ray gave rank 0 GPU 3 and rank 2 GPU 1 on node a, rank 1 GPU 0 on node b
    envs = rank_envs([Place("a", ("3",)), Place("b", ("0",)), Place("a", ("1",))], 1)
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["3,1", "0", "3,1"]
    for env, own in zip(envs, ("3", "0", "1")):  # DataParallel.from_env selects GPU LOCAL_RANK
        assert env["CUDA_VISIBLE_DEVICES"].split(",")[int(env["LOCAL_RANK"])] == own
    assert "CUDA_VISIBLE_DEVICES" not in rank_envs([Place("a")], 1)[0]  # CPU ranks: Ray's setting stays


# -- await_ranks ----------------------------------------------------------------------------
class Ranks:
    """Stand-ins for the ranks' object refs: `finish` is the order in which they complete,
    `outcome[r]` a rank's result or the exception it raised."""

    def __init__(self, outcome: dict, finish: list[int]) -> None:
        self.outcome, self.finish = outcome, list(finish)

    def wait(self, refs, *, timeout):
        ready = [r for r in self.finish if r in refs][:1]
        if ready:
            self.finish.remove(ready[0])
        return ready

    def get(self, ref):
        if isinstance(self.outcome[ref], Exception):
            raise self.outcome[ref]
        return self.outcome[ref]


def test_the_results_come_back_in_rank_order_whatever_order_the_ranks_finish_in():
    ranks = Ranks({0: "summary", 1: None, 2: None}, finish=[2, 0, 1])
    assert await_ranks([0, 1, 2], wait=ranks.wait, get=ranks.get) == ["summary", None, None]


def test_a_failed_rank_is_named_with_its_error_and_the_others_that_failed_with_it():
    boom = ValueError("no such verifier\n  (a second line)")
    ranks = Ranks({0: RuntimeError("Connection closed by peer"), 1: boom, 2: None}, finish=[1, 0, 2])
    with pytest.raises(GroupFailed) as e:
        await_ranks([0, 1, 2], wait=ranks.wait, get=ranks.get, grace_s=5)
    assert str(e.value) == ("training process 1 of 3 failed: ValueError: no such verifier; "
                            "process 0 too: RuntimeError: Connection closed by peer")
    assert e.value.__cause__ is boom


def test_a_rank_that_hangs_after_another_failed_is_not_waited_for():
    """Regression: a rank blocked in a collective for the failed one never finishes; the driver
    reports after the grace period instead of waiting for it."""
    ranks = Ranks({0: ValueError("boom"), 1: None}, finish=[0])  # rank 1 never finishes
    with pytest.raises(GroupFailed, match="training process 0 of 2 failed: ValueError: boom$"):
        await_ranks([0, 1], wait=ranks.wait, get=ranks.get, grace_s=0.05)


# -- RankZeroRollout ----------------------------------------------------------------------
class Wire(DataParallel):
    """`DataParallel` whose broadcast is a queue instead of a process group: rank 0's calls
    run first and send, then rank 1's receive in the same order (its real `on_main` runs)."""

    def __init__(self, rank: int, sent: list) -> None:
        super().__init__(rank, 2)
        self.sent = sent

    def broadcast(self, value):
        if self.is_main:
            self.sent.append(value)
            return value
        return self.sent.pop(0)

    def full_weights(self, model) -> dict:
        return dict(model.named_parameters()) if self.is_main else {}


class Pool:
    def __init__(self) -> None:
        self.pushed, self.loaded, self.fail = [], [], False

    def generate(self, prompts, n, sampling):
        if self.fail:
            raise RuntimeError("rollout worker 1 died 4 times in one call")
        return [f"{p}:{i}" for p in prompts for i in range(n)]

    def push_weights(self, weights):
        self.pushed.append(sorted(weights))

    def state_dict(self):
        return {"generator": 7}

    def load_state_dict(self, state):
        self.loaded.append(state)


@pytest.fixture
def two_ranks():
    sent: list = []
    pool = Pool()
    return pool, RankZeroRollout(Wire(0, sent), pool, ["b"]), RankZeroRollout(Wire(1, sent), None, ["b"])


def test_rank_0_samples_on_the_pool_and_the_others_get_its_completions(two_ranks):
    pool, first, second = two_ranks
    assert first.generate(["x", "y"], 2, SamplingParams()) == ["x:0", "x:1", "y:0", "y:1"]
    assert second.generate(["x", "y"], 2, SamplingParams()) == ["x:0", "x:1", "y:0", "y:1"]
    pool.fail = True  # an error of the pool stops every rank, not rank 0 alone
    for rank in (first, second):
        with pytest.raises(RuntimeError, match="died 4 times"):
            rank.generate(["x"], 1, SamplingParams())


def test_rank_0_pushes_the_gathered_trainable_weights(two_ranks):
    pool, first, second = two_ranks
    model = torch.nn.Module()
    model.a, model.b = torch.nn.Parameter(torch.ones(1), requires_grad=False), torch.nn.Parameter(torch.ones(1))
    first.update_weights(model)
    second.update_weights(model)
    assert pool.pushed == [["b"]]  # once, by rank 0; the frozen weight came with the workers' model


def test_every_rank_holds_rank_0s_pool_state_and_a_loaded_one_reaches_rank_0s_pool(two_ranks):
    pool, first, second = two_ranks
    assert first.state_dict() == second.state_dict() == {"generator": 7}
    first.load_state_dict({"generator": 8})
    second.load_state_dict({"generator": "what another rank read"})
    assert pool.loaded == [{"generator": 8}]


def test_the_workers_copy_is_the_model_and_leaves_the_random_state_alone():
    model, tok = tiny_model(0)
    weights = {k: v.detach().clone() for k, v in model.state_dict().items() if k not in _tied_keys(model)}
    rng = torch.get_rng_state()
    whole = whole_model(model, weights)
    assert torch.equal(torch.get_rng_state(), rng)  # the run draws what one process would
    assert whole is not model and whole.training == model.training
    assert whole.generation_config.eos_token_id == model.generation_config.eos_token_id
    ids = torch.tensor([tok("1+1=").input_ids])
    with torch.no_grad():
        assert torch.equal(whole(input_ids=ids).logits, model(input_ids=ids).logits)
