import copy

import pytest
import torch

from rlvr.batching import collate, score
from rlvr.models import tiny_model
from rlvr.rollout.base import RolloutEngine, SamplingParams
from rlvr.rollout.hf import HFEngine, sample_tokens


@pytest.fixture(scope="module")
def tiny():
    return tiny_model(0)


PROMPTS = ["What is 1 + 1?", "2+2=", "Hello there, how are you"]


def test_engine_follows_the_protocol(tiny):
    assert isinstance(HFEngine(*tiny), RolloutEngine)


def test_greedy_matches_transformers_generate(tiny):
    model, tok = tiny
    eng = HFEngine(model, tok)
    ours = eng.generate(PROMPTS, 1, SamplingParams(max_new_tokens=8, temperature=0))
    enc = tok(PROMPTS, return_tensors="pt", padding=True)
    ref = model.generate(**enc, max_new_tokens=8, do_sample=False, pad_token_id=tok.pad_token_id)
    for c, r in zip(ours, ref[:, enc.input_ids.shape[1]:]):
        r = r.tolist()
        if tok.eos_token_id in r:
            r = r[:r.index(tok.eos_token_id) + 1]
        assert c.token_ids == r


def test_sampling_is_seeded_and_prompt_major(tiny):
    model, tok = tiny
    sp = SamplingParams(max_new_tokens=6)
    a = HFEngine(model, tok, seed=1).generate(PROMPTS, 3, sp)
    b = HFEngine(model, tok, seed=1).generate(PROMPTS, 3, sp)
    c = HFEngine(model, tok, seed=2).generate(PROMPTS, 3, sp)
    assert [x.token_ids for x in a] == [x.token_ids for x in b]
    assert [x.token_ids for x in a] != [x.token_ids for x in c]
    assert [x.prompt_index for x in a] == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    # a batch size that splits the prompts changes nothing about what each prompt gets
    d = HFEngine(model, tok, seed=1, batch_size=3).generate(PROMPTS, 3, sp)
    assert [x.prompt_index for x in d] == [x.prompt_index for x in a]


def test_engine_state_restores_the_sampler(tiny):
    model, tok = tiny
    sp = SamplingParams(max_new_tokens=5)
    eng = HFEngine(model, tok, seed=0)
    eng.generate(PROMPTS, 2, sp)
    state = eng.state_dict()
    nxt = eng.generate(PROMPTS, 2, sp)
    other = HFEngine(model, tok, seed=123)
    other.load_state_dict(state)
    assert [x.token_ids for x in other.generate(PROMPTS, 2, sp)] == [x.token_ids for x in nxt]


def test_sampler_logprobs_match_the_trainer(tiny):
    model, tok = tiny
    prompts = [tok(p).input_ids for p in PROMPTS]
    comps = HFEngine(model, tok, seed=0).generate(prompts, 2, SamplingParams(max_new_tokens=7, temperature=0.8))
    batch = collate(prompts, comps, tok.pad_token_id)
    trainer = score(model, batch, micro_batch_size=4, temperature=0.8, chunk_size=16, precision="none")
    assert torch.allclose(trainer, batch.rollout_logp, atol=1e-4)


def _eos_biased(model, eos: int, bias: float):
    """A copy of `model` whose output layer adds `bias` to the EOS logit."""
    m = copy.deepcopy(model)
    head = torch.nn.Linear(m.config.hidden_size, m.config.vocab_size, bias=True)
    with torch.no_grad():
        head.weight.copy_(m.lm_head.weight)
        head.bias.zero_()
        head.bias[eos] = bias
    m.lm_head = head
    return m


def test_stop_and_length_finish_reasons(tiny):
    model, tok = tiny
    eos = tok.eos_token_id
    sp = SamplingParams(max_new_tokens=6)
    never = HFEngine(_eos_biased(model, eos, -50.0), tok).generate(PROMPTS, 2, sp)
    assert all(c.finish_reason == "length" and len(c.token_ids) == 6 and eos not in c.token_ids for c in never)
    always = HFEngine(_eos_biased(model, eos, 50.0), tok).generate(PROMPTS, 2, sp)
    assert all(c.finish_reason == "stop" and c.token_ids == [eos] and c.text == "" for c in always)
    mixed = HFEngine(_eos_biased(model, eos, 3.5), tok, seed=0).generate(PROMPTS, 8, sp)
    reasons = {c.finish_reason for c in mixed}
    assert reasons == {"stop", "length"}  # rows finish at different times; the rest go on
    for c in mixed:
        assert eos not in c.token_ids[:-1]
        assert (c.finish_reason == "stop") == (c.token_ids[-1] == eos)
        assert len(c.logprobs) == len(c.token_ids)


def test_inverse_cdf_sampler_draws_the_right_distribution():
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4])
    logits = probs.log().expand(20_000, 4)
    g = torch.Generator().manual_seed(0)
    tokens, logp = sample_tokens(logits, SamplingParams(), g)
    freq = torch.bincount(tokens, minlength=4).float() / 20_000
    assert torch.allclose(freq, probs, atol=0.015)  # 4.5 standard errors at most
    assert torch.allclose(logp, probs.log()[tokens])


def test_top_k_and_top_p_cut_the_tail():
    logits = torch.tensor([0.1, 0.2, 0.3, 0.4]).log().expand(4000, 4)
    g = torch.Generator().manual_seed(0)
    top2, _ = sample_tokens(logits, SamplingParams(top_k=2), g)
    assert set(top2.tolist()) == {2, 3}
    # top_p 0.5: keep tokens until the mass before them reaches 0.5 → 0.4 and 0.3 (0.4 < 0.5)
    topp, lp = sample_tokens(logits, SamplingParams(top_p=0.5), g)
    assert set(topp.tolist()) == {2, 3}
    # the reported log-prob is of the untruncated distribution (what the trainer scores)
    assert torch.allclose(lp, torch.tensor([0.1, 0.2, 0.3, 0.4]).log()[topp])
    greedy, _ = sample_tokens(logits[:3], SamplingParams(temperature=0), g)
    assert greedy.tolist() == [3, 3, 3]


def test_decode_attention_matches_sdpa():
    from types import SimpleNamespace

    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    from rlvr.rollout.attention import decode_attention

    g = torch.Generator().manual_seed(0)
    B, H, KV, L, D = 3, 6, 2, 7, 8
    q = torch.randn(B, H, 1, D, generator=g)
    k, v = torch.randn(B, KV, L, D, generator=g), torch.randn(B, KV, L, D, generator=g)
    mask = torch.ones(B, 1, 1, L, dtype=torch.bool)
    mask[0, :, :, :3] = False  # left padding of row 0
    module = SimpleNamespace(num_key_value_groups=H // KV, is_causal=True, training=False)
    with torch.no_grad():
        ours, _ = decode_attention(module, q, k, v, mask, scaling=D ** -0.5)
        ref, _ = sdpa_attention_forward(module, q, k, v, mask, scaling=D ** -0.5)
    assert ours.shape == ref.shape == (B, 1, H, D)
    assert torch.allclose(ours, ref, atol=1e-5)


def test_bf16_engine_samples_what_the_fp32_model_would(tiny):
    model, tok = tiny
    sp = SamplingParams(max_new_tokens=6, temperature=0)
    fp32 = HFEngine(model, tok).generate(PROMPTS, 1, sp)
    bf16 = HFEngine(model, tok, dtype="bfloat16").generate(PROMPTS, 1, sp)
    assert HFEngine(model, tok, dtype="bfloat16").model.config._attn_implementation == "rlvr_decode"
    agree = [a.token_ids[:2] == b.token_ids[:2] for a, b in zip(fp32, bf16)]
    assert sum(agree) >= 2  # bf16 rounding may flip a near-tie, not most first tokens
