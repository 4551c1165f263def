"""Rollouts with a transformers model in this process: seeded, batched, stopping at EOS.

Our own decoding loop instead of `model.generate`, for three measured reasons on CPU
(`../shared/ENVIRONMENT.md`): each prompt is encoded once and its cache copied to the n
samples of its group; rows that finished are dropped from the batch (generate keeps
decoding them); and tokens are drawn with an exact inverse-CDF sampler (one uniform per
row) instead of `torch.multinomial`, which costs tens of ms per step on CPU. A bf16 engine
also uses a grouped-query decode attention (`attention.py`).
"""
from __future__ import annotations

import copy
from typing import Sequence

import torch
from torch import Tensor

from rlvr.devices import model_device
from rlvr.models import position_ids_for
from rlvr.rollout.attention import use_decode_attention
from rlvr.rollout.base import Prompt, SamplingParams
from rlvr.types import Completion

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def sample_tokens(logits: Tensor, sampling: SamplingParams,
                  generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """One token per row of `logits` [A, V] and its log-prob under the temperature-scaled
    distribution (before top-k/top-p truncation, as the trainer scores it).

    Inverse-CDF sampling: u ~ U(0, total mass), token = first index whose cumulative mass
    exceeds u — exact, and far cheaper than `torch.multinomial` on CPU.
    """
    logits = logits.float()
    if sampling.temperature == 0:
        tokens = logits.argmax(-1)
        return tokens, torch.log_softmax(logits, -1).gather(-1, tokens[:, None]).squeeze(-1)
    logp = torch.log_softmax(logits / sampling.temperature, dim=-1)
    probs = logp.exp()
    if sampling.top_k > 0:
        kth = torch.topk(probs, min(sampling.top_k, probs.shape[-1]), dim=-1).values[:, -1:]
        probs = torch.where(probs >= kth, probs, torch.zeros_like(probs))
    if sampling.top_p < 1.0:
        sorted_p, order = torch.sort(probs, dim=-1, descending=True)
        before = sorted_p.cumsum(-1) - sorted_p  # mass strictly before each token
        sorted_p = torch.where(before < sampling.top_p, sorted_p, torch.zeros_like(sorted_p))
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
    cdf = probs.cumsum(-1)
    # the uniforms come from the engine's CPU generator whatever the device: one seed, one
    # stream of draws, and a checkpointed state that resumes on either device
    u = torch.rand(cdf.shape[0], 1, generator=generator).to(cdf.device) * cdf[:, -1:]
    tokens = torch.searchsorted(cdf, u, right=True).squeeze(-1).clamp(max=cdf.shape[-1] - 1)
    return tokens, logp.gather(-1, tokens[:, None]).squeeze(-1)


class HFEngine:
    """`RolloutEngine` over a transformers causal LM.

    With `dtype="float32"` the engine samples from the trainer's own model object (no
    copy, `update_weights` has nothing to do). With `bfloat16` it keeps its own bf16 copy,
    refreshed by `update_weights` — faster decoding on CPUs with bf16 units, at the price
    of small log-prob differences from the trainer (see truncated importance sampling).
    It decodes on the device of the model it is given (`model.device`); the tensors of the
    decoding loop live there, and the finished tokens come back to the CPU once per batch.
    """

    def __init__(self, model, tokenizer, *, dtype: str = "float32", batch_size: int = 64,
                 seed: int = 0, drop_finished_at: float = 0.25) -> None:
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.drop_finished_at = drop_finished_at
        self.dtype = DTYPES[dtype]
        self.shared = next(model.parameters()).dtype == self.dtype
        self.model = model if self.shared else copy.deepcopy(model).to(self.dtype)
        self.device = model_device(self.model)
        if not self.shared and self.dtype == torch.bfloat16 and self.device.type == "cpu":
            use_decode_attention(self.model)  # bf16 sdpa is slow for one-token steps on CPU
        self.generator = torch.Generator().manual_seed(seed)
        eos = model.generation_config.eos_token_id if getattr(model, "generation_config", None) else None
        eos = eos if isinstance(eos, list) else [eos]
        self.stop_ids = sorted({i for i in eos + [tokenizer.eos_token_id] if i is not None})
        if tokenizer.pad_token_id is None:
            raise ValueError("the tokenizer needs a pad token (use models.load_tokenizer)")

    # -- protocol ---------------------------------------------------------------------
    def update_weights(self, model) -> None:
        if self.shared and model is self.model:
            return
        with torch.no_grad():
            src = dict(model.named_parameters())
            for name, p in self.model.named_parameters():
                p.copy_(src[name])

    def generate(self, prompts: Sequence[Prompt], n: int, sampling: SamplingParams) -> list[Completion]:
        ids = [self.tokenizer(p, add_special_tokens=False).input_ids if isinstance(p, str) else list(p)
               for p in prompts]
        generator = self.generator if sampling.seed is None else torch.Generator().manual_seed(sampling.seed)
        per_call = max(1, self.batch_size // n)  # prompts per decoding batch
        out: list[Completion] = []
        was_training = self.model.training
        self.model.eval()
        try:
            for start in range(0, len(ids), per_call):
                out.extend(self._decode(ids[start:start + per_call], n, sampling, generator, start))
        finally:
            self.model.train(was_training)
        return out

    # -- checkpointing of the sampler's randomness ------------------------------------
    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])

    # -- the decoding loop ------------------------------------------------------------
    @torch.inference_mode()
    def _decode(self, prompts: list[list[int]], n: int, sampling: SamplingParams,
                generator: torch.Generator, first_index: int) -> list[Completion]:
        from transformers import DynamicCache

        P, T = len(prompts), sampling.max_new_tokens
        width = max(len(p) for p in prompts)
        ids = torch.full((P, width), self.tokenizer.pad_token_id, dtype=torch.long)
        attn = torch.zeros((P, width), dtype=torch.long)
        for i, p in enumerate(prompts):  # left padding: every prompt ends at the same column
            ids[i, width - len(p):] = torch.tensor(p, dtype=torch.long)
            attn[i, width - len(p):] = 1
        dev = self.device  # filled on the CPU above, moved in one copy each
        ids, attn = ids.to(dev), attn.to(dev)
        cache = DynamicCache(config=self.model.config)
        logits = self.model(input_ids=ids, attention_mask=attn, position_ids=position_ids_for(attn),
                            past_key_values=cache, use_cache=True, logits_to_keep=1).logits[:, -1]
        if n > 1:  # the prompt was encoded once; its cache serves all n samples
            cache.batch_repeat_interleave(n)
            logits = logits.repeat_interleave(n, dim=0)
            attn = attn.repeat_interleave(n, dim=0)
        B = P * n
        rows = torch.arange(B, device=dev)  # original row of each row still in the batch
        positions = attn.sum(-1)  # position of the next token of each row
        tokens_out = torch.full((B, T), self.tokenizer.pad_token_id, dtype=torch.long, device=dev)
        logps_out = torch.zeros((B, T), device=dev)
        lengths = torch.full((B,), T, dtype=torch.long, device=dev)
        stopped = torch.zeros(B, dtype=torch.bool, device=dev)
        stop_ids = torch.tensor(self.stop_ids, dtype=torch.long, device=dev)
        done = torch.zeros(B, dtype=torch.bool, device=dev)  # over the rows still in the batch
        for t in range(T):
            tok, lp = sample_tokens(logits, sampling, generator)
            live = ~done
            tokens_out[rows[live], t] = tok[live]
            logps_out[rows[live], t] = lp[live]
            newly = live & torch.isin(tok, stop_ids)
            lengths[rows[newly]] = t + 1
            stopped[rows[newly]] = True
            done |= newly
            if bool(done.all()) or t == T - 1:
                break
            if int(done.sum()) >= self.drop_finished_at * done.numel():
                keep = (~done).nonzero().squeeze(-1)
                cache.batch_select_indices(keep)
                rows, attn, positions, tok, done = rows[keep], attn[keep], positions[keep], tok[keep], done[keep]
            attn = torch.cat([attn, torch.ones((attn.shape[0], 1), dtype=attn.dtype, device=dev)], dim=1)
            logits = self.model(input_ids=tok[:, None], attention_mask=attn,
                                position_ids=positions[:, None], past_key_values=cache,
                                use_cache=True).logits[:, -1]
            positions = positions + 1
        # back to the CPU once for the whole batch (not one transfer per row)
        tokens_out, logps_out, lengths, stopped = (x.cpu() for x in (tokens_out, logps_out, lengths, stopped))
        completions = []
        for b in range(B):
            L = int(lengths[b])
            token_ids = tokens_out[b, :L].tolist()
            completions.append(Completion(
                token_ids=token_ids, logprobs=logps_out[b, :L].tolist(),
                text=self.tokenizer.decode(token_ids, skip_special_tokens=True),
                finish_reason="stop" if bool(stopped[b]) else "length",
                prompt_index=first_index + b // n))
        return completions
