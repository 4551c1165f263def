"""JEPO's batch: each sampled chain of thought continued by the reference answer.

JEPO (Tang et al., arXiv 2503.19618) scores a chain of thought c_i by the teacher-forced
log-likelihood of the reference answer after it, ℓ_i = log π(a* | x, c_i) — a sum over the
answer's tokens, never divided by its length (§5, long-form answers). This module cuts each
completion at the end of its chain of thought (`jepo.marker`, kept; or the whole completion
when the marker is empty), appends `jepo.answer_prefix` + the reference + the end-of-turn
token, and collates rows whose `answer_mask` marks the appended tokens. The policy-gradient
term trains the chain-of-thought tokens (`batch.mask`); the supervised term trains the
answer tokens through ℓ.
"""
from __future__ import annotations

import torch
from torch import Tensor

from rlvr.batching import RolloutBatch, collate, score
from rlvr.types import Completion, Sample


def chain_of_thought(tokenizer, completion: Completion, marker: str) -> list[int] | None:
    """The completion's tokens up to and including the first `marker` (None: no marker, an
    ill-formatted sample). With an empty marker, the whole completion without its final
    end-of-turn token."""
    ids = list(completion.token_ids)
    if not marker:
        return ids[:-1] if completion.finish_reason == "stop" and ids else ids
    if marker not in tokenizer.decode(ids, skip_special_tokens=True):
        return None
    lo, hi = 1, len(ids)  # the shortest prefix whose text contains the marker (monotone in length)
    while lo < hi:
        mid = (lo + hi) // 2
        if marker in tokenizer.decode(ids[:mid], skip_special_tokens=True):
            hi = mid
        else:
            lo = mid + 1
    return ids[:lo]


def answer_tokens(tokenizer, reference: str, prefix: str) -> list[int]:
    """`prefix + reference` tokenised, then the end-of-turn token (the answer ends the turn)."""
    return tokenizer(prefix + str(reference), add_special_tokens=False).input_ids + [tokenizer.eos_token_id]


def jepo_batch(tokenizer, samples: list[Sample], prompts: list[list[int]], completions: list[Completion],
               *, marker: str, answer_prefix: str,
               device: torch.device | str = "cpu") -> tuple[RolloutBatch, Tensor]:
    """(batch, valid[N] bool), both on `device`: rows = chain of thought + reference answer. An
    ill-formatted row keeps its whole completion, gets no answer, and is marked invalid."""
    cut, answers, valid = [], [], []
    for c in completions:
        cot = chain_of_thought(tokenizer, c, marker)
        ok = cot is not None
        cot = cot if ok else list(c.token_ids)
        cut.append(Completion(cot, list(c.logprobs[:len(cot)]), c.text, c.finish_reason, c.prompt_index))
        answers.append(answer_tokens(tokenizer, samples[c.prompt_index].answer, answer_prefix) if ok else [])
        valid.append(ok)
    batch = collate(prompts, cut, tokenizer.pad_token_id, answers=answers, device=device)
    return batch, torch.tensor(valid, device=batch.device)


def answer_loglik(logp: Tensor, batch: RolloutBatch, rows: Tensor) -> Tensor:
    """[len(rows)] ℓ = Σ over the appended answer tokens of log π (gradients flow if `logp` has them)."""
    return (logp * batch.answer_mask[rows]).sum(-1)


def score_answers(model, batch: RolloutBatch, valid: Tensor, *, micro_batch_size: int, **opts) -> Tensor:
    """[N] ℓ under `model` without gradients; −inf for invalid rows (JEPO's convention)."""
    lp = score(model, batch, micro_batch_size=micro_batch_size, **opts)
    ell = answer_loglik(lp, batch, torch.arange(len(batch)))
    return torch.where(valid, ell, torch.full_like(ell, -float("inf")))
