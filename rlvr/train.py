"""The training loop, top to bottom.

Each step: sample prompts → generate G completions per prompt → verify → advantages →
optimisation epochs over mini-batches with gradient accumulation → update the rollout
engine's weights → log → evaluate / checkpoint.

Where this deviates from the GRPO paper (arXiv 2402.03300), on purpose:
- The KL penalty is off by default (β = 0, as in TRL and Dr. GRPO); set `algo.kl_coef` to
  load a frozen reference model and add β·KL to the loss, the paper's placement.
- Sequences whose advantage is zero (groups with equal rewards) skip their forward and
  backward passes when the loss marks itself `linear_in_advantage` and there is no KL
  term: their contribution is exactly zero, and the denominators still count them.
"""
from __future__ import annotations

import copy
import json
import math
import random
import time
from collections import defaultdict
from functools import partial
from pathlib import Path

import torch
from tqdm.auto import tqdm

from rlvr.algos import ADVANTAGES, KL, LOSSES, REDUCE
from rlvr.batching import RolloutBatch, collate, completion_logprobs, score
from rlvr.checkpoint import (checkpoint_dirs, latest_checkpoint, load_checkpoint, remove_partial_checkpoints,
                             rng_state, save_checkpoint, set_rng_state)
from rlvr.config import Config, config_to_yaml, save_config
from rlvr.data import PromptStream, eval_samples, prompt_ids
from rlvr.eval import evaluate
from rlvr.models import load_policy
from rlvr.rollout.base import SamplingParams
from rlvr.rollout.hf import HFEngine
from rlvr.runlog import RunLog, write_report
from rlvr.verifiers.reward import RewardFunction


class RunExists(RuntimeError):
    """The run folder already holds checkpoints of another run."""


def run_dir_of(cfg: Config) -> Path:
    """`run.out`, or `runs/<name>` — then `runs/<name>-2`, `-3`... if that already holds a run,
    so that running the same preset twice never collides."""
    if cfg.run.out:
        return Path(cfg.run.out)
    base = Path("runs") / cfg.run.name
    candidate, n = base, 1
    while checkpoint_dirs(candidate):
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def build_policy(cfg: Config):
    """(model, tokenizer) with LoRA adapters and activation checkpointing as configured."""
    model, tokenizer = load_policy(cfg.model.path, seed=cfg.run.seed)
    if cfg.model.lora.rank > 0:
        from peft import LoraConfig, get_peft_model

        lora = cfg.model.lora
        model = get_peft_model(model, LoraConfig(r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                                                 target_modules=list(lora.targets), task_type="CAUSAL_LM"))
    if cfg.model.activation_checkpointing:
        if cfg.model.lora.rank > 0:
            model.enable_input_require_grads()  # frozen embeddings: the recomputed layers need a grad input
        if hasattr(model, "activation_checkpointing_enable"):  # transformers ≥ 5
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    return model, tokenizer


def policy_update(model, ref_model, batch: RolloutBatch, advantages: torch.Tensor, *, cfg: Config,
                  optimizer, scheduler, step: int) -> dict[str, float]:
    """All optimizer steps of one rollout batch: `algo.epochs` passes over mini-batches of
    `algo.mini_batch_size` sequences, each accumulated over micro-batches."""
    a, o = cfg.algo, cfg.optim
    loss_fn = LOSSES[a.loss]
    N, mask = len(batch), batch.mask
    opts = dict(temperature=cfg.rollout.temperature or 1.0, chunk_size=cfg.model.logprob_chunk,
                precision=cfg.model.autocast)
    mini = a.mini_batch_size or N
    # With one epoch over one mini-batch, π_old is the current policy: its log-probs are the
    # current ones, detached (ratio 1) — no extra forward pass needed.
    on_policy = a.epochs == 1 and mini == N
    old_logp = None if on_policy else score(model, batch, micro_batch_size=o.micro_batch_size, **opts)
    ref_logp = None if ref_model is None else score(ref_model, batch, micro_batch_size=o.micro_batch_size, **opts)
    skip_zero = getattr(loss_fn, "linear_in_advantage", False) and ref_model is None
    params = [p for p in model.parameters() if p.requires_grad]
    tally = _Tally()
    first, trained, loss_sum = True, 0, 0.0
    for epoch in range(a.epochs):
        order = torch.arange(N)
        if not on_policy:  # seeded by (seed, step, epoch): a resumed run draws the same order
            order = torch.randperm(N, generator=torch.Generator().manual_seed(
                cfg.run.seed * 1_000_003 + step * 1009 + epoch))
        for mb in order.split(mini):
            reduce = partial(REDUCE[a.reduce], **a.reduce_args,
                             total_tokens=mask[mb].sum(), total_seqs=len(mb))
            rows_to_run = mb[advantages[mb] != 0] if skip_zero else mb
            optimizer.zero_grad(set_to_none=True)
            trained += len(rows_to_run)
            for rows in rows_to_run.split(o.micro_batch_size) if len(rows_to_run) else ():
                logp = completion_logprobs(model, batch, rows, **opts)
                old = logp.detach() if old_logp is None else old_logp[rows]
                loss, m = loss_fn(logp, old, advantages[rows], mask[rows], reduce=reduce,
                                  **a.loss_args)
                if ref_model is not None:
                    kl = reduce(KL[a.kl](logp, ref_logp[rows]), mask[rows])
                    loss = loss + a.kl_coef * kl
                    m["kl"] = kl.detach()
                loss.backward()
                tokens = float(mask[rows].sum())
                loss_sum += float(loss.detach())  # micro-batch losses add up to the mini-batch's
                for k, v in m.items():
                    tally.add(k, float(v), tokens)
                if first:  # before any update: trainer vs sampler on the same weights
                    diff = (logp.detach() - batch.rollout_logp[rows]) * mask[rows]
                    tally.add("mismatch/logp_abs_diff", float(diff.abs().sum()) / max(tokens, 1.0), tokens)
                    tally.add("mismatch/ratio_max", float(torch.exp(diff).max()), tokens)
            for p in params:  # a skipped row is a zero gradient; Adam must still see a zero
                if p.grad is None:
                    p.grad = torch.zeros_like(p)
            grad_norm = torch.nn.utils.clip_grad_norm_(params, o.grad_clip if o.grad_clip > 0 else math.inf)
            tally.add("grad_norm", float(grad_norm), 1.0)
            tally.last["lr"] = scheduler.get_last_lr()[0]
            optimizer.step()
            scheduler.step()
            first = False
    return {**tally.result(), "loss": loss_sum / (a.epochs * (N // mini)),
            "sequences_trained": trained / a.epochs}


class _Tally:
    """Step metrics from many micro-batches: names ending in `_max` keep their maximum, the
    rest a weighted mean; `last` holds values where only the latest counts (the lr)."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = defaultdict(float)
        self.weights: dict[str, float] = defaultdict(float)
        self.maxima: dict[str, float] = {}
        self.last: dict[str, float] = {}

    def add(self, key: str, value: float, weight: float) -> None:
        if key.endswith("_max"):
            self.maxima[key] = max(self.maxima.get(key, -math.inf), value)
        else:
            self.sums[key] += value * weight
            self.weights[key] += weight

    def result(self) -> dict[str, float]:
        means = {k: v / self.weights[k] for k, v in self.sums.items() if self.weights[k] > 0}
        return {**means, **self.maxima, **self.last}


def _eval_metrics(result: dict) -> dict[str, float]:
    return {f"eval/{k}": v for k, v in result.items() if k != "examples"}


def _rollout_metrics(rewards: torch.Tensor, scored, completions) -> dict[str, float]:
    lengths = torch.tensor([len(c.token_ids) for c in completions], dtype=torch.float32)
    return {
        "reward/mean": float(rewards.mean()),
        "reward/std": float(rewards.std()) if rewards.numel() > 1 else 0.0,
        "accuracy": sum(scored.correct) / len(completions), **scored.metrics,
        # groups whose rewards are all equal have zero advantage: they teach nothing
        "groups/all_equal_frac": float((rewards.max(1).values == rewards.min(1).values).float().mean()),
        "length/mean": float(lengths.mean()), "length/max": float(lengths.max()),
        "length/truncated_frac": sum(c.finish_reason == "length" for c in completions) / len(completions),
    }


def _sample_rows(samples, completions, scored, advantages, n: int) -> list[dict]:
    """`n` completions spread evenly over the batch (so over several prompts)."""
    rows = []
    for i in sorted({k * len(completions) // n for k in range(min(n, len(completions)))}):
        c = completions[i]
        s = samples[c.prompt_index]
        rows.append({"prompt": s.prompt, "answer": s.answer, "completion": c.text,
                     "reward": scored.rewards[i], "advantage": float(advantages[i]),
                     "finish_reason": c.finish_reason,
                     "verifiers": {k: {"reward": v.reward, **v.info} for k, v in scored.verdicts[i].items()}})
    return rows


def train(cfg: Config, *, resume: bool = False) -> dict:
    """Run (or resume) training as configured; returns the summary also written to report.md."""
    run_dir = run_dir_of(cfg)
    ckpt = latest_checkpoint(run_dir) if resume else None
    if not resume and checkpoint_dirs(run_dir):
        raise RunExists(f"{run_dir} already holds checkpoints; resume it with `rlvr train --resume "
                        f"{run_dir}` or choose another folder with --out")
    if resume and ckpt is None:
        print(f"no complete checkpoint in {run_dir}: starting from the beginning")
    if resume:
        remove_partial_checkpoints(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, str(run_dir / "config.yaml"))
    if cfg.run.threads:
        torch.set_num_threads(cfg.run.threads)
    random.seed(cfg.run.seed)
    torch.manual_seed(cfg.run.seed)

    # -- model, reference, rollout engine, optimizer ---------------------------------------
    model, tokenizer = build_policy(cfg)
    ref_model = None
    if cfg.algo.kl_coef > 0:  # frozen copy of the initial policy
        ref_model = copy.deepcopy(model).eval().requires_grad_(False)
    engine = HFEngine(model, tokenizer, dtype=cfg.rollout.dtype, batch_size=cfg.rollout.batch_size,
                      seed=cfg.run.seed)
    o = cfg.optim
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=o.lr,
                                  betas=tuple(o.betas), weight_decay=o.weight_decay)
    warmup = o.warmup_steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) if warmup else 1.0)
    stream = PromptStream(cfg.data, cfg.run.seed)
    reward_fn = RewardFunction([(v.name, v.weight, v.options) for v in cfg.reward.verifiers],
                               accuracy_from=cfg.reward.accuracy_from, workers=cfg.reward.workers,
                               timeout_s=cfg.reward.timeout_s)
    try:
        advantage_fn = partial(ADVANTAGES[cfg.algo.advantage], **cfg.algo.advantage_args)

        start, before, after = 0, None, None
        if ckpt is not None:
            state = load_checkpoint(ckpt, model)
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            engine.load_state_dict(state["engine"])
            stream.load_state_dict(state["data"])
            set_rng_state(state["rng"])
            engine.update_weights(model)
            start, before = state["step"], state.get("eval_before")
            print(f"resuming {run_dir} from {ckpt.name}")
        log = RunLog(run_dir, resume_step=start if ckpt is not None else None)

        render = partial(prompt_ids, tokenizer, cfg=cfg.data)
        held_out = eval_samples(cfg.data, size=cfg.eval.size, seed=cfg.eval.seed)
        eval_tokens = cfg.eval.max_new_tokens or cfg.rollout.max_new_tokens

        def held_out_eval(label: str) -> dict:
            t = time.time()
            res = evaluate(engine, held_out, render, reward_fn, max_new_tokens=eval_tokens,
                           progress=cfg.run.progress).as_dict(examples=True)
            print(f"held-out greedy accuracy {label}: {res['accuracy']:.1%} of {res['problems']} problems "
                  f"({time.time() - t:.0f}s)", flush=True)
            return res

        if start == 0 and cfg.eval.before and held_out:
            before = held_out_eval("before training")
            log.log(0, _eval_metrics(before))

        P, G = cfg.rollout.prompts_per_step, cfg.rollout.group_size
        sampling = SamplingParams(max_new_tokens=cfg.rollout.max_new_tokens, temperature=cfg.rollout.temperature,
                                  top_p=cfg.rollout.top_p, top_k=cfg.rollout.top_k)
        t_run = time.time()
        bar = tqdm(total=cfg.run.steps, initial=start, disable=not cfg.run.progress, desc="train",
                   dynamic_ncols=True)
        for step in range(start + 1, cfg.run.steps + 1):
            t0 = time.time()
            # 1. prompts
            samples = stream.next(P)
            prompts = [render(s) for s in samples]
            # 2. rollouts: G completions per prompt, prompt-major
            completions = engine.generate(prompts, G, sampling)
            t_gen = time.time() - t0
            # 3. rewards
            scored = reward_fn([c.text for c in completions], [s.answer for s in samples for _ in range(G)],
                               [s.meta for s in samples for _ in range(G)])
            rewards = torch.tensor(scored.rewards, dtype=torch.float32).view(P, G)
            t_reward = time.time() - t0 - t_gen
            # 4. advantages, one per completion
            advantages = advantage_fn(rewards).reshape(-1)
            # 5. optimisation
            batch = collate(prompts, completions, tokenizer.pad_token_id)
            update = policy_update(model, ref_model, batch, advantages, cfg=cfg, optimizer=optimizer,
                                   scheduler=scheduler, step=step)
            # 6. the engine samples from the new weights from now on
            engine.update_weights(model)
            # 7. log
            elapsed = time.time() - t0
            metrics = {**_rollout_metrics(rewards, scored, completions), **update,
                       "time/generate_s": t_gen, "time/reward_s": t_reward,
                       "time/update_s": elapsed - t_gen - t_reward, "time/step_s": elapsed,
                       "tokens/generated_per_s": sum(len(c.token_ids) for c in completions) / max(t_gen, 1e-9)}
            if cfg.eval.every and step % cfg.eval.every == 0 and step != cfg.run.steps and held_out:
                metrics.update(_eval_metrics(held_out_eval(f"at step {step}")))
            log.log(step, metrics)
            log.samples(step, _sample_rows(samples, completions, scored, advantages, cfg.run.log_samples))
            bar.update(1)
            bar.set_postfix({"reward": f"{metrics['reward/mean']:.3f}", "acc": f"{metrics['accuracy']:.3f}",
                             "len": f"{metrics['length/mean']:.0f}", "s/step": f"{elapsed:.1f}"})
            # 8. checkpoint
            if step == cfg.run.steps or (cfg.run.save_every and step % cfg.run.save_every == 0):
                save_checkpoint(run_dir, step, model, tokenizer, {
                    "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "engine": engine.state_dict(), "data": stream.state_dict(), "rng": rng_state(),
                    "eval_before": before}, keep=cfg.run.keep_checkpoints)
        bar.close()
        train_seconds = time.time() - t_run

        if cfg.eval.after and held_out:
            after = held_out_eval("after training")
        final = latest_checkpoint(run_dir)
        summary = {"run_dir": str(run_dir), "eval_before": before, "eval_after": after,
                   "train_seconds": train_seconds, "final_checkpoint": str(final) if final else None}
        _finish(log, run_dir, cfg, summary)
        return summary
    finally:
        reward_fn.close()


def _finish(log: RunLog, run_dir: Path, cfg: Config, summary: dict) -> None:
    history = log.history()
    (run_dir / "eval.json").write_text(json.dumps(
        {"before": summary["eval_before"], "after": summary["eval_after"]}, indent=2), encoding="utf-8")
    log.plot(after=(cfg.run.steps, summary["eval_after"]["accuracy"]) if summary["eval_after"] else None)
    log.close()
    ckpt = summary["final_checkpoint"]
    write_report(run_dir, config_yaml=config_to_yaml(cfg), before=summary["eval_before"],
                 after=summary["eval_after"], history=[r for r in history if r["step"] > 0],
                 seconds=summary["train_seconds"],
                 checkpoint=str(Path(ckpt).relative_to(run_dir)) if ckpt else None)
