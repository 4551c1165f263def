"""Samplers that draw P prompts and G completions of each: `groups` (plain), `dynamic`
(DAPO's dynamic sampling) and `greedy_baseline` (ReMax's extra greedy completion).

- DAPO's dynamic sampling (arXiv 2503.14476 §3.2, Eq. 11, "0 < |{o_i : is_equivalent(a, o_i)}|
  < G"): groups whose completions are all correct or all wrong (by the accuracy verifier) are
  dropped and fresh prompts are generated until the batch holds P groups or
  `rollout.max_gen_rounds` rounds were spent (`rollout.oversample` × P prompts a round, as
  verl's recipe draws 3×). `rollout.dynamic_filter: reward_spread` keeps any group whose total
  rewards differ instead (shaping included: a group with no correct answer but unequal
  overlong penalties then trains on length alone).
- ReMax's baseline (arXiv 2310.10505, Algorithm 1): one greedy completion per prompt, scored
  like the rest; its reward is `Rollout.greedy_rewards`.
- DAPO's soft overlong punishment (§3.4, Eq. 13), `reward.overlong_buffer`, shapes the
  reward of every sampler here.
"""
from __future__ import annotations

import dataclasses
import math
import time
from typing import ClassVar

import torch

from rlvr.data import prompt_context
from rlvr.rollout.base import SamplingParams
from rlvr.samplers.base import Render, Rollout, mean_of, overlong_penalty
from rlvr.verifiers.reward import verifier_meta


class GroupSampler:
    """P = `rollout.prompts_per_step` prompts × G = `rollout.group_size` completions, one round."""

    wraps: ClassVar[bool] = False

    def __init__(self, cfg, *, tokenizer=None, inner=None, greedy: bool = False) -> None:
        """`greedy`: also decode one greedy completion per prompt and score it
        (`Rollout.greedy_rewards`), for a method that asks for it (ReMax)."""
        self.cfg, self.greedy = cfg, greedy
        r = cfg.rollout
        self.P, self.G = r.prompts_per_step, r.group_size
        self.sampling = SamplingParams(max_new_tokens=r.max_new_tokens, temperature=r.temperature,
                                       top_p=r.top_p, top_k=r.top_k)

    @staticmethod
    def check_config(cfg) -> None:
        """The `rollout.*` keys are checked with the rest of the config; nothing of its own."""

    # -- what differs between the samplers of this file ---------------------------------
    def rounds(self) -> tuple[int, int]:
        """(most generation rounds, prompts drawn per round)."""
        return 1, self.P

    def keeps(self, rewards, correct: list[bool]) -> bool:
        """Whether a group with these [G] rewards and correct flags joins the batch."""
        return True

    def extra_metrics(self, used_rounds: int, dropped: int, kept: int) -> dict[str, float]:
        return {}

    # -- the protocol ------------------------------------------------------------------
    def collect(self, stream, engine, reward_fn, render: Render) -> Rollout:
        P, G, r = self.P, self.G, self.cfg.reward
        sampling = self.sampling
        buffer = r.overlong_tokens(sampling.max_new_tokens)
        rounds, per_round = self.rounds()
        kept: list[tuple] = []  # (sample, prompt, completions, rewards[G], correct, verdicts, greedy reward)
        all_rewards, all_correct, all_lengths, all_truncated, verifier_metrics = [], [], [], [], []
        dropped, used_rounds, t_gen, t_reward, n_tokens = 0, 0, 0.0, 0.0, 0
        for _ in range(rounds):
            if len(kept) >= P:
                break
            used_rounds += 1
            samples = stream.next(per_round)
            prompts = [render(s) for s in samples]
            t = time.time()
            completions = engine.generate(prompts, G, sampling)
            scored_completions = list(completions)  # the G samples of each prompt, then its greedy one
            refs = [s.answer for s in samples for _ in range(G)]
            row_metas = [verifier_meta(s.prompt, s.meta, prompt_context(s, self.cfg.data)) for s in samples]
            metas = [m for m in row_metas for _ in range(G)]
            groups = [G] * len(samples)
            if self.greedy:
                scored_completions += engine.generate(prompts, 1, dataclasses.replace(sampling, temperature=0.0))
                refs += [s.answer for s in samples]
                metas += row_metas
                groups += [1] * len(samples)
            t_gen += time.time() - t
            all_scored_lengths = torch.tensor([len(c.token_ids) for c in scored_completions])
            n_tokens += int(all_scored_lengths.sum())
            t = time.time()
            scored = reward_fn([c.text for c in scored_completions], refs, metas, groups=groups,
                               completion_ids=[c.token_ids for c in scored_completions])
            t_reward += time.time() - t
            verifier_metrics.append(scored.metrics)
            total = torch.tensor(scored.rewards, dtype=torch.float32)
            if buffer:
                total = total + overlong_penalty(all_scored_lengths, max_len=sampling.max_new_tokens, buffer=buffer,
                                                 penalty=r.overlong_penalty)
            n = len(samples)
            rewards, greedy_r = total[:n * G], (total[n * G:] if self.greedy else None)
            lengths = all_scored_lengths[:n * G]
            rewards = rewards.view(n, G)
            all_rewards.append(rewards)
            all_correct += scored.correct[:n * G]
            all_lengths.append(lengths)
            all_truncated += [c.finish_reason == "length" for c in completions]
            for p in range(n):
                if not self.keeps(rewards[p], scored.correct[p * G:(p + 1) * G]):
                    dropped += 1
                    continue
                if len(kept) < P:
                    kept.append((samples[p], prompts[p], completions[p * G:(p + 1) * G], rewards[p],
                                 scored.correct[p * G:(p + 1) * G], scored.verdicts[p * G:(p + 1) * G],
                                 None if greedy_r is None else greedy_r[p]))
        out = Rollout(
            samples=[k[0] for k in kept], prompts=[k[1] for k in kept],
            completions=[dataclasses.replace(c, prompt_index=i) for i, k in enumerate(kept) for c in k[2]],
            rewards=torch.stack([k[3] for k in kept]) if kept else torch.zeros(0, G),
            correct=[x for k in kept for x in k[4]], verdicts=[x for k in kept for x in k[5]],
            greedy_rewards=torch.stack([k[6] for k in kept]) if self.greedy and kept else None)
        rewards, lengths = torch.cat(all_rewards), torch.cat(all_lengths).float()
        out.metrics = {
            "reward/mean": float(rewards.mean()),
            "reward/std": float(rewards.std()) if rewards.numel() > 1 else 0.0,
            "accuracy": sum(all_correct) / len(all_correct),
            **mean_of(verifier_metrics),
            # groups whose rewards are all equal have zero advantage: they teach nothing
            "groups/all_equal_frac": float((rewards.max(1).values == rewards.min(1).values).float().mean()),
            "length/mean": float(lengths.mean()), "length/max": float(lengths.max()),
            "length/truncated_frac": sum(all_truncated) / len(all_truncated),
            "time/generate_s": t_gen, "time/reward_s": t_reward,
            "tokens/generated_per_s": n_tokens / max(t_gen, 1e-9),
            **self.extra_metrics(used_rounds, dropped, len(kept)),
        }
        if self.greedy and kept:
            out.metrics["reward/greedy_mean"] = float(out.greedy_rewards.mean())
        return out

    def state_dict(self) -> dict:
        return {}  # every draw is the stream's or the engine's, which checkpoint themselves

    def load_state_dict(self, state: dict) -> None:
        pass

    def close(self) -> None:
        pass


class DynamicSampler(GroupSampler):
    """DAPO's dynamic sampling: only groups with some correct and some wrong completions join
    the batch (or, with `rollout.dynamic_filter: reward_spread`, a spread of rewards)."""

    def rounds(self) -> tuple[int, int]:
        return self.cfg.rollout.max_gen_rounds, math.ceil(self.P * self.cfg.rollout.oversample)

    def keeps(self, rewards, correct: list[bool]) -> bool:
        if self.cfg.rollout.dynamic_filter == "reward_spread":
            return not bool((rewards == rewards[0]).all())
        return 0 < sum(correct) < len(correct)

    def extra_metrics(self, used_rounds: int, dropped: int, kept: int) -> dict[str, float]:
        return {"dynamic/rounds": float(used_rounds), "dynamic/dropped_groups": float(dropped),
                "dynamic/short_groups": float(self.P - kept)}


class GreedyBaselineSampler(GroupSampler):
    """ReMax: the G samples of each prompt plus its greedy completion, all scored."""

    def __init__(self, cfg, *, tokenizer=None, inner=None, greedy: bool = True) -> None:
        super().__init__(cfg, tokenizer=tokenizer, inner=inner, greedy=True)
