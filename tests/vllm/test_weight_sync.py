"""`update_weights` moves the trainer's new weights into vLLM in memory: after each update the
engine samples from, and scores with, exactly the trainer's current model."""
import copy

import pytest

pytest.importorskip("vllm", reason="needs vllm: `make vllm-env`, then `make test-vllm`")

import torch  # noqa: E402

from rlvr.batching import collate, score  # noqa: E402
from rlvr.rollout import SamplingParams, build_engine  # noqa: E402
from tests.vllm.conftest import vllm_engine, vllm_tiny_model  # noqa: E402

GREEDY = SamplingParams(max_new_tokens=8, temperature=0)


def trainer_scores(model, tok, prompts, out):
    batch = collate(prompts, out, tok.pad_token_id)
    with torch.no_grad():
        return score(model, batch, micro_batch_size=8, temperature=1.0, chunk_size=64, precision="none"), batch


def test_each_update_is_what_the_engine_samples_from(tmp_path, monkeypatch):
    model, tok = vllm_tiny_model(0)
    prompts = [tok(p).input_ids for p in ("1+1=", "a longer prompt")]
    engine = vllm_engine(model, tok)
    monkeypatch.chdir(tmp_path)  # the sync writes nothing, here or in the temporary folder
    before = engine.generate(prompts, 1, GREEDY)
    for step in range(2):  # two updates in a row: the second is not a no-op of the first
        with torch.no_grad():
            for p in model.parameters():
                p.add_(0.05 * torch.randn_like(p))
        engine.update_weights(model)
        out = engine.generate(prompts, 1, GREEDY)
        trainer, batch = trainer_scores(model, tok, prompts, out)
        assert torch.allclose(trainer * batch.mask, batch.rollout_logp, atol=1e-4), step
        assert [c.logprobs for c in out] != [c.logprobs for c in before]
        before = out
    assert list(tmp_path.iterdir()) == []


def test_the_update_follows_the_model_given_not_the_one_built_with():
    model, tok = vllm_tiny_model(0)
    other, _ = vllm_tiny_model(5)
    prompts = [tok("1+1=").input_ids]
    engine = vllm_engine(model, tok)
    engine.update_weights(copy.deepcopy(other))
    out = engine.generate(prompts, 1, GREEDY)
    reference = build_engine("hf", other, tok).generate(prompts, 1, GREEDY)
    assert out[0].token_ids == reference[0].token_ids
    trainer, batch = trainer_scores(other, tok, prompts, out)
    assert torch.allclose(trainer * batch.mask, batch.rollout_logp, atol=1e-4)
