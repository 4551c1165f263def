"""JEPO's batch: chain of thought cut at the marker, reference answer appended."""
import torch

from rlvr.methods.answer_likelihood import answer_loglik, chain_of_thought, jepo_batch
from rlvr.models import tiny_tokenizer
from rlvr.types import Completion, Sample


def _completion(tok, text, finish="stop"):
    ids = tok(text, add_special_tokens=False).input_ids + ([tok.eos_token_id] if finish == "stop" else [])
    return Completion(ids, [-1.0] * len(ids), text, finish, 0)


def test_chain_of_thought_ends_at_the_marker_inclusive():
    tok = tiny_tokenizer()  # one token per character
    c = _completion(tok, "think 2+2 Answer: 4")
    cot = chain_of_thought(tok, c, "Answer:")
    assert tok.decode(cot) == "think 2+2 Answer:"
    assert chain_of_thought(tok, _completion(tok, "no marker here"), "Answer:") is None
    # empty marker: the whole completion, without its end-of-turn token
    assert tok.decode(chain_of_thought(tok, c, "")) == "think 2+2 Answer: 4"


def test_jepo_batch_masks_answer_tokens_and_flags_invalid_rows():
    tok = tiny_tokenizer()
    samples = [Sample("q", "12")]
    prompts = [tok("q=", add_special_tokens=False).input_ids]
    comps = [_completion(tok, "ab Answer: 9"), _completion(tok, "abc", finish="length")]
    batch, valid = jepo_batch(tok, samples, prompts, comps, marker="Answer:", answer_prefix=" ")
    assert valid.tolist() == [True, False]
    # row 0: "ab Answer:" (10 tokens) then " 12" + end-of-turn (4 tokens) as the answer
    assert batch.answer_mask[0].sum() == 4 and batch.mask[0].sum() == 10
    answer_ids = batch.input_ids[0, batch.prompt_width + 10:batch.prompt_width + 14].tolist()
    assert tok.decode(answer_ids[:-1]) == " 12" and answer_ids[-1] == tok.eos_token_id
    # the appended tokens were not sampled: their rollout log-prob is 0
    assert batch.rollout_logp[0, 10:14].abs().sum() == 0 and batch.rollout_logp[0, :10].sum() == -10
    # row 1: no marker, the whole completion stays for the format penalty, no answer
    assert batch.answer_mask[1].sum() == 0 and batch.mask[1].sum() == 3
    logp = -torch.ones(2, batch.answer_mask.shape[1])
    assert answer_loglik(logp, batch, torch.arange(2)).tolist() == [-4.0, 0.0]
