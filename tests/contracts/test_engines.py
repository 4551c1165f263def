"""The RolloutEngine contract (rlvr/rollout/base.py), run against every entry of ENGINES and
the toy plug-in of tests/plugins.py: a new engine is tested the moment it is registered. The
Ray backend's pool (`ray:hf`: two Ray workers running the HF engine) keeps the same contract;
it is skipped where ray is not installed. An engine with a back end of its own
(`backend = "vllm"`) is skipped here, saying why: its environment runs this suite in
tests/<backend>/test_engine_contract.py, on a tiny model that back end can run (vLLM's CPU
attention has no kernel for the tiny model's head size 16)."""
import copy
import importlib.util

import pytest
import torch

from rlvr.batching import collate, score
from rlvr.models import tiny_model
from rlvr.rollout import ENGINES, RolloutEngine, SamplingParams, build_engine, engine_class

HAS_RAY = importlib.util.find_spec("ray") is not None
NAMES = sorted(ENGINES) + ["tests.plugins:ConstantEngine",
                           pytest.param("ray:hf", marks=[pytest.mark.scale, pytest.mark.skipif(not HAS_RAY, reason="ray is not installed")])]
SAMPLING = SamplingParams(max_new_tokens=5, temperature=0.7)


@pytest.fixture(scope="module")
def local_ray():
    import ray

    ray.init(num_cpus=16, object_store_memory=100 * 2**20, include_dashboard=False)  # logical CPUs: several pools at once
    yield
    ray.shutdown()


@pytest.fixture(params=NAMES)
def make(request):
    # the Ray pool wraps a registered engine (`ray:hf`): that engine's back end is what counts
    inner = request.param[4:] if request.param.startswith("ray:") else request.param
    backend = getattr(engine_class(inner), "backend", None)
    if backend and importlib.util.find_spec(backend) is None:
        pytest.skip(f"engine {request.param!r} needs the {backend} package, not installed here (make vllm-env)")
    if backend:  # the tiny model's head size 16 is not one vLLM's CPU attention takes
        pytest.skip(f"engine {request.param!r} runs this suite in tests/{backend}/test_engine_contract.py, on a "
                    "tiny model its back end can run")
    model, tok = tiny_model(0)  # a fresh model per test: an engine may share the trainer's weights
    prompts = [tok(p).input_ids for p in ("1+1=", "a longer prompt", "x")]
    pools = []

    def build(seed=0):
        if request.param.startswith("ray:"):
            from rlvr.rollout.ray_pool import RayRolloutPool

            request.getfixturevalue("local_ray")
            pools.append(RayRolloutPool(request.param[4:], model, tok, seed=seed, workers=2))
            return pools[-1]
        return build_engine(request.param, model, tok, seed=seed)
    yield build, model, tok, prompts
    for pool in pools:
        pool.close()


def test_prompt_major_with_indices(make):
    build, _, _, prompts = make
    engine = build()
    assert isinstance(engine, RolloutEngine)
    out = engine.generate(prompts, 2, SAMPLING)
    assert [c.prompt_index for c in out] == [0, 0, 1, 1, 2, 2]
    assert all(len(c.token_ids) == len(c.logprobs) for c in out)


def test_lengths_and_finish_reasons(make):
    build, _, tok, prompts = make
    for c in build().generate(prompts, 3, SAMPLING):
        assert 1 <= len(c.token_ids) <= SAMPLING.max_new_tokens
        if c.finish_reason == "stop":
            assert c.token_ids[-1] == tok.eos_token_id  # it stopped at the end of the turn
        else:
            assert c.finish_reason == "length" and len(c.token_ids) == SAMPLING.max_new_tokens
            assert tok.eos_token_id not in c.token_ids


def test_logprobs_are_what_the_trainer_scores(make):
    """The taken token's log-prob under the temperature-scaled full distribution, before
    top-k/top-p: with top-k on, the trainer's scores still match."""
    build, model, tok, prompts = make
    sampling = SamplingParams(max_new_tokens=5, temperature=0.7, top_k=5, top_p=0.9)
    out = build().generate(prompts, 2, sampling)
    batch = collate(prompts, out, tok.pad_token_id)
    trainer = score(model, batch, micro_batch_size=8, temperature=0.7, chunk_size=64, precision="none")
    assert torch.allclose(trainer * batch.mask, batch.rollout_logp, atol=1e-4)


def test_seeding_and_state_give_the_same_samples(make):
    build, _, _, prompts = make
    tokens = lambda out: [c.token_ids for c in out]  # noqa: E731
    assert tokens(build(seed=3).generate(prompts, 2, SAMPLING)) == tokens(build(seed=3).generate(prompts, 2, SAMPLING))
    engine = build(seed=1)
    state = copy.deepcopy(engine.state_dict())
    first = tokens(engine.generate(prompts, 2, SAMPLING))
    engine.load_state_dict(state)
    assert tokens(engine.generate(prompts, 2, SAMPLING)) == first  # a resumed run samples the same
    # a call seeded on its own leaves the engine's generator where it was
    engine, fresh = build(seed=1), build(seed=1)
    engine.generate(prompts, 2, SamplingParams(max_new_tokens=5, temperature=0.7, seed=99))
    assert tokens(engine.generate(prompts, 2, SAMPLING)) == tokens(fresh.generate(prompts, 2, SAMPLING))


def test_update_weights_changes_what_it_samples_from(make):
    build, model, _, prompts = make
    engine = build()
    before = [c.logprobs for c in engine.generate(prompts, 1, SamplingParams(max_new_tokens=3, temperature=0))]
    changed = copy.deepcopy(model)
    with torch.no_grad():
        for p in changed.parameters():
            p.add_(0.05 * torch.randn_like(p))
    engine.update_weights(changed)
    after = [c.logprobs for c in engine.generate(prompts, 1, SamplingParams(max_new_tokens=3, temperature=0))]
    assert before != after
