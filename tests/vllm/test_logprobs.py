"""vLLM's log-probs have the trainer's semantics: the taken token under the temperature-scaled
full-vocabulary distribution, before top-k/top-p — checked against the HF path on the same
weights, in float32 (to 1e-4) and in bfloat16 (within bf16 rounding)."""
import copy

import pytest

pytest.importorskip("vllm", reason="needs vllm: `make vllm-env`, then `make test-vllm`")

import torch  # noqa: E402

from rlvr.batching import collate, score  # noqa: E402
from rlvr.rollout import SamplingParams, build_engine  # noqa: E402
from tests.vllm.conftest import vllm_engine, vllm_tiny_model  # noqa: E402

PROMPTS = ("1+1=", "What is 2+3? Answer:", "x")
TRUNCATED = SamplingParams(max_new_tokens=12, temperature=0.7, top_k=5, top_p=0.9)


def trainer_logprobs(model, tok, prompts, out, temperature):
    batch = collate(prompts, out, tok.pad_token_id)
    with torch.no_grad():
        scored = score(model, batch, micro_batch_size=8, temperature=temperature, chunk_size=64, precision="none")
    return scored, batch


def test_greedy_float32_matches_the_hf_engine_token_for_token():
    model, tok = vllm_tiny_model(1)
    prompts = [tok(p).input_ids for p in PROMPTS]
    greedy = SamplingParams(max_new_tokens=12, temperature=0)
    hf = build_engine("hf", model, tok).generate(prompts, 1, greedy)
    ours = vllm_engine(model, tok).generate(prompts, 1, greedy)
    assert [c.token_ids for c in ours] == [c.token_ids for c in hf]
    for a, b in zip(ours, hf):
        assert a.finish_reason == b.finish_reason and a.text == b.text
        assert torch.allclose(torch.tensor(a.logprobs), torch.tensor(b.logprobs), atol=1e-4)


@pytest.mark.parametrize("sampling", [SamplingParams(max_new_tokens=12, temperature=1.0), TRUNCATED])
def test_bfloat16_logprobs_are_the_trainers_within_bf16_rounding(sampling):
    """With top-k 5 and top-p 0.9 the truncated distribution's log-probs would be larger than
    the trainer's by −log(kept mass), about 1–3 nats on this model; bf16 rounding is ~1e-2."""
    model, tok = vllm_tiny_model(2)
    prompts = [tok(p).input_ids for p in PROMPTS]
    out = vllm_engine(model, tok, dtype="bfloat16", seed=4).generate(prompts, 4, sampling)
    trainer, batch = trainer_logprobs(model, tok, prompts, out, sampling.temperature)
    gap = (trainer * batch.mask - batch.rollout_logp).abs()
    assert gap.max() < 0.05, gap.max()
    assert gap.sum() / batch.mask.sum() < 0.01
    # the same completions scored in bf16 by the trainer's own code are as close: the gap is
    # the bf16 rounding of the weights, not a different distribution
    hf_bf16 = copy.deepcopy(model).to(torch.bfloat16)
    theirs, _ = trainer_logprobs(hf_bf16, tok, prompts, out, sampling.temperature)
    assert (theirs * batch.mask - batch.rollout_logp).abs().max() < 0.05


def test_top_k_restricts_what_is_sampled_not_the_logprobs():
    """Every token sampled with top-k 1 is the argmax, yet its log-prob is the full
    distribution's (below 0), not the truncated one's (0)."""
    model, tok = vllm_tiny_model(3)
    prompts = [tok(p).input_ids for p in PROMPTS]
    out = vllm_engine(model, tok).generate(prompts, 2, SamplingParams(max_new_tokens=6, temperature=0.7,
                                                                               top_k=1))
    greedy = build_engine("hf", model, tok).generate(prompts, 1, SamplingParams(max_new_tokens=6, temperature=0))
    for c in out:
        assert c.token_ids == greedy[c.prompt_index].token_ids
        assert max(c.logprobs) < -1e-3
    trainer, batch = trainer_logprobs(model, tok, prompts, out, 0.7)
    assert torch.allclose(trainer * batch.mask, batch.rollout_logp, atol=1e-4)
