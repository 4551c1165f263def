"""Toy plug-ins of each kind, named by import path, that prove the recipe of
docs/architecture.md: a new engine, sampler or method is one class, no edit of rlvr.

- `ConstantEngine`: answers every prompt with the same text and reports the model's own
  log-probs of those tokens (what an offline or replay engine looks like).
- `BestOfNSampler`: samples 2G completions of each prompt and keeps the G with the highest
  reward (a biased but common data filter; the metrics say how many were dropped).
- `SignOnly`: a method whose advantage is the sign of the GRPO advantage.
- `JsonlTracker`: a tracker (`run.trackers`) that appends every call it gets to
  `<run>/jsonl_tracker.jsonl` (what a tracker for an in-house dashboard looks like).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import torch

from rlvr.methods.policy_gradient import PolicyGradient
from rlvr.models import sequence_logprobs
from rlvr.rollout.base import SamplingParams
from rlvr.samplers.base import Rollout
from rlvr.samplers.groups import GroupSampler
from rlvr.types import Completion


class ConstantEngine:
    TEXT = "1"

    def __init__(self, model, tokenizer, *, dtype="float32", batch_size=64, seed=0) -> None:
        self.model, self.tokenizer = model, tokenizer
        self.calls = 0

    def generate(self, prompts, n, sampling: SamplingParams):
        ids = self.tokenizer(self.TEXT, add_special_tokens=False).input_ids[:sampling.max_new_tokens]
        stops = len(ids) < sampling.max_new_tokens
        ids = ids + [self.tokenizer.eos_token_id] if stops else ids  # a finished answer ends the turn
        out = []
        for i, p in enumerate(prompts):
            p = list(p) if not isinstance(p, str) else self.tokenizer(p, add_special_tokens=False).input_ids
            seq = torch.tensor([p + ids])
            attn = torch.ones_like(seq)
            completion = torch.zeros_like(seq)
            completion[:, len(p):] = 1
            with torch.no_grad():
                lp = sequence_logprobs(self.model, seq, attn, completion, temperature=sampling.temperature or 1.0,
                                       chunk_size=64)[0, len(p):]
            for _ in range(n):
                out.append(Completion(list(ids), lp.tolist(), self.TEXT, "stop" if stops else "length", prompt_index=i))
        self.calls += 1
        return out

    def update_weights(self, model) -> None:
        self.model = model

    def state_dict(self) -> dict:
        return {"calls": self.calls}

    def load_state_dict(self, state: dict) -> None:
        self.calls = state["calls"]


class BestOfNSampler(GroupSampler):
    def __init__(self, cfg, *, tokenizer=None, inner=None, greedy=False) -> None:
        super().__init__(cfg, tokenizer=tokenizer, inner=inner, greedy=greedy)
        self.G = 2 * cfg.rollout.group_size  # sample twice the group, keep the better half

    def collect(self, stream, engine, reward_fn, render) -> Rollout:
        full = super().collect(stream, engine, reward_fn, render)
        G = self.G // 2
        keep = [p * self.G + int(j) for p in range(len(full.samples))
                for j in torch.sort(full.rewards[p].argsort(descending=True, stable=True)[:G]).values]
        full.metrics["best_of_n/dropped"] = float(len(full.completions) - len(keep))
        return Rollout(samples=full.samples, prompts=full.prompts,
                       completions=[full.completions[i] for i in keep],
                       rewards=full.rewards.reshape(-1)[keep].view(-1, G),
                       correct=[full.correct[i] for i in keep], verdicts=[full.verdicts[i] for i in keep],
                       metrics=full.metrics)


class SignOnly(PolicyGradient):
    advantages: ClassVar[tuple[str, ...]] = ("grpo",)

    def advantages_of(self, rollout, rewards, batch, kl):
        advantages, extra, metrics = super().advantages_of(rollout, rewards, batch, kl)
        return torch.sign(advantages), extra, {**metrics, "sign_only/positive_frac": float((advantages > 0).float().mean())}


class JsonlTracker:
    requires: ClassVar[tuple[str, ...]] = ()
    pip: ClassVar[str] = "pip install rlvr"
    rewinds: ClassVar[bool] = False

    def _write(self, **call) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(call) + "\n")

    def start(self, config, run_dir: Path, resume: int | None) -> None:
        self.path = Path(run_dir) / "jsonl_tracker.jsonl"
        self._write(call="start", resume=resume, run_name=config.run.name)

    def log(self, metrics: dict, step: int) -> None:
        self._write(call="log", step=step, metrics=metrics)

    def log_completions(self, rows: list[dict], step: int) -> None:
        self._write(call="log_completions", step=step, completions=[r["completion"] for r in rows])

    def finish(self) -> None:
        self._write(call="finish")
