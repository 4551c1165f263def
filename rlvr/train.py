"""The training loop, top to bottom.

Each step: the sampler collects prompts, completions and their rewards (`rlvr.samplers`) →
the method prepares its batch and advantages (`rlvr.methods`) → the shared optimisation
minimises the method's loss terms over epochs × mini-batches × micro-batches
(`rlvr.methods.objective`, `rlvr.optimise`) → the method's after-update (its own extra steps) →
the rollout engine samples from the new weights (`rlvr.rollout`) → log → evaluate /
checkpoint. Which sampler, method and engine run is a matter of registry names in the config
(`rollout.sampler`, `algo.method`, `rollout.engine`, chosen from the other keys when empty);
this file names none of them. docs/architecture.md draws the data flow.

Launched by torchrun (`rlvr train --nproc N`), the same loop runs in every process: `procs`
(`rlvr.distributed`) shards the model, shares each mini-batch's rows and gathers the
checkpoints; the first process alone writes the run folder. With one process, `procs` is
`ONE`, which does what this loop always did.
"""
from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
from tqdm.auto import tqdm

from rlvr.checkpoint import (latest_checkpoint, newest_good_checkpoint, remove_partial_checkpoints, rng_state,
                             set_rng_state)
from rlvr.config import Config, config_to_yaml, save_config
from rlvr.data import PromptStream, check_data_sources, eval_samples, prompt_context
from rlvr.data.fit import PromptFitter, model_context
from rlvr.distributed import ONE, processes_from_env
from rlvr.eval import evaluate
from rlvr.health import RunHealth
from rlvr.methods import build_method, update_policy
from rlvr.models import build_policy
from rlvr.optimise import NonFiniteError, check_finite
from rlvr.rollout import build_run_engine
from rlvr.rundir import claim_run_dir, run_dir_of
from rlvr.runfiles import DiskFull, RunExists, atomic_write_text, disk_full_reported_once, is_disk_full
from rlvr.runlog import RunLog, write_report
from rlvr.samplers import sampler_for
from rlvr.samplers.pipeline import RolloutQueue
from rlvr.verifiers.references import check_references
from rlvr.verifiers.reward import build_reward_function

__all__ = ["RunExists", "build_policy", "claim_run_dir", "run_dir_of", "train", "update_policy"]


def train(cfg: Config, *, resume: bool = False) -> dict:
    """Run (or resume) training as configured; returns the summary also written to report.md.
    The run folder stays locked until this returns."""
    check_data_sources(cfg.data)  # a missing file or cache entry stops here, before any run folder
    procs = processes_from_env(cfg.model.device)
    procs.check_config(cfg)
    held = []  # the first process claims the folder and holds its lock; the others are told it
    run_dir = procs.on_main(lambda: held.append(claim_run_dir(cfg, resume=resume)) or held[0][0])
    try:
        with disk_full_reported_once():
            ckpt = procs.on_main(lambda: _checkpoint_to_resume(run_dir)) if resume else None
            return _train(cfg, run_dir, ckpt, procs)
    except NonFiniteError as e:
        good, _ = newest_good_checkpoint(run_dir, set_aside=False)
        raise NonFiniteError(f"{e}; the run stopped and saved nothing more. The newest good checkpoint is "
                             f"{good.name if good else 'none'}") from None
    except OSError as e:
        if not is_disk_full(e):
            raise
        good, _ = newest_good_checkpoint(run_dir, set_aside=False)
        where = f" ({e.filename})" if e.filename else ""
        raise DiskFull(f"the disk is full: writing the files of {run_dir} failed{where}: {e.strerror}; the newest "
                       f"good checkpoint is {good.name if good else 'none'}. Free some space, then `rlvr train "
                       f"--resume {run_dir}` continues exactly from it") from e
    finally:
        if held:
            held[0][1].release()
        procs.close()


def _checkpoint_to_resume(run_dir: Path) -> Path | None:
    remove_partial_checkpoints(run_dir)
    ckpt, notes = newest_good_checkpoint(run_dir)
    for note in notes:
        print(f"checkpoint check: {note}", flush=True)
    if ckpt is None and notes:
        raise RunExists(f"no checkpoint of {run_dir} verifies ({'; '.join(notes)}); nothing to resume "
                        "from — start a new run with another --out")
    if ckpt is None:
        print(f"no complete checkpoint in {run_dir}: starting from the beginning")
    elif notes:
        print(f"falling back to {ckpt.name}, the newest checkpoint that verifies", flush=True)
    return ckpt


@dataclass
class Parts:
    """Everything a run is made of, built once by `_build`."""

    cfg: Config
    model: object
    tokenizer: object
    method: object
    engine: object
    optimizer: object
    scheduler: object
    stream: PromptStream
    held_out: list
    render: PromptFitter
    reward_fn: object
    sampler: object
    eval_tokens: int
    procs: object = ONE
    rollouts: RolloutQueue | None = None
    """The steps' rollouts, generated `rollout.max_staleness` steps ahead (0: each in its step)."""

    def state(self, step: int, before: dict | None, after: dict | None) -> dict:
        """What a checkpoint keeps beside the weights, for an exact resume (and the held-out
        evaluations before training and, in the last step's, after it)."""
        # first: it waits for the generation in flight, whose draws the engine's, the stream's
        # and the sampler's states below then include
        queued = self.rollouts.state_dict()
        return {"rollouts": queued, "optimizer": self.procs.optimizer_state(self.optimizer, self.model),
                "scheduler": self.scheduler.state_dict(),
                "engine": self.engine.state_dict(), "data": self.stream.state_dict(), "rng": rng_state(),
                "sampler": self.sampler.state_dict(), "eval_before": before, "eval_after": after,
                **self.method.state_dict()}

    def restore(self, ckpt: Path) -> tuple[int, dict | None, dict | None]:
        state = self.procs.load_checkpoint(ckpt, self.model)
        self.procs.load_optimizer_state(self.optimizer, self.model, state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.engine.load_state_dict(state["engine"])
        self.stream.load_state_dict(state["data"])
        self.method.load_state_dict(state)
        self.sampler.load_state_dict(state.get("sampler", {}))
        set_rng_state(state["rng"])
        self.engine.update_weights(self.model)
        self.rollouts.load_state_dict(state.get("rollouts", {}), step=state["step"])
        return state["step"], state.get("eval_before"), state.get("eval_after")

    def close(self) -> None:
        self.rollouts.close()  # first: a generation in flight still uses the reward function
        self.reward_fn.close()
        self.sampler.close()
        close_engine = getattr(self.engine, "close", None)  # not in the protocol: only engines with
        if close_engine is not None:  # processes of their own (Ray workers) have something to stop
            close_engine()


def _build(cfg: Config, procs=ONE) -> Parts:
    stream = PromptStream(cfg.data, cfg.run.seed)  # a bad data file fails before the model loads
    held_out = eval_samples(cfg.data, size=cfg.eval.size, seed=cfg.eval.seed)
    for samples, what in ((stream.first(), "training"), (held_out, "held-out")):  # no reward silently 0
        check_references(samples, cfg.reward.verifiers, answer_field=cfg.data.answer_field, what=what)
    eval_tokens = cfg.eval.max_new_tokens or cfg.rollout.max_new_tokens
    if cfg.run.threads:
        torch.set_num_threads(cfg.run.threads)
    random.seed(cfg.run.seed)
    torch.manual_seed(cfg.run.seed)
    model, tokenizer = build_policy(cfg)
    method = build_method(cfg, model, tokenizer)  # with the models it scores with, if any
    procs.shard(model)  # after the method's own models copied it whole; before the optimizer
    engine = build_run_engine(cfg, model, tokenizer)  # `rollout.engine`, placed by `run.backend`
    o = cfg.optim
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=o.lr,
                                  betas=tuple(o.betas), weight_decay=o.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / o.warmup_steps) if o.warmup_steps else 1.0)
    # every file row must fit the context with room for the completion (or is cut, if asked)
    render = PromptFitter(tokenizer, cfg.data, context=model_context(model),
                          max_new_tokens=max(cfg.rollout.max_new_tokens, eval_tokens))
    render.check(stream.rows or [], "training")
    render.check(held_out, "held-out")
    reward_fn = build_reward_function(cfg)
    sampler = sampler_for(cfg, tokenizer, method)
    p = Parts(cfg, model, tokenizer, method, engine, optimizer, scheduler, stream, held_out, render,
              reward_fn, sampler, eval_tokens, procs)
    p.rollouts = RolloutQueue(partial(_collect, p), engine.update_weights, max_staleness=cfg.rollout.max_staleness,
                              steps=cfg.run.steps)
    return p


def _collect(p: Parts, version: int):
    """One step's rollout, generated and scored from the engine's weights of `version` (the
    training steps they have had) — in the step itself, or ahead of it on the generation
    thread (rlvr/samplers/pipeline.py)."""
    p.reward_fn.global_step = version  # a TRL function's trainer_state.global_step: steps done
    rollout = p.sampler.collect(p.stream, p.engine, p.reward_fn, p.render)
    if p.cfg.data.truncate == "left":
        rollout.metrics["data/truncated_prompts"], p.render.truncated = float(p.render.truncated), 0
    return rollout


def _step(p: Parts, step: int) -> tuple[dict, list[dict], bool | None]:
    """One step: (its metrics, the rows for samples.jsonl, whether every advantage was 0 —
    None when nothing was trained or the loss learns at zero advantage)."""
    cfg, t0 = p.cfg, time.time()
    rollout = p.rollouts.next(step)
    t_gen = time.time() - t0  # generation and rewards (with asynchronous steps: the wait for them)
    metrics = dict(rollout.metrics)
    rows, all_zero = [], None
    if rollout.samples:
        train = p.method.prepare(rollout, step=step)
        metrics.update(train.metrics)
        metrics.update(update_policy(p.model, train, cfg=cfg, optimizer=p.optimizer, scheduler=p.scheduler,
                                     step=step, parallel=p.procs))
        metrics.update(p.method.after_update(train, step=step))
        p.rollouts.advance(step, p.model, updated=True)  # the engine samples from the new weights from now on
        p.reward_fn.global_step = step
        rows = _sample_rows(rollout, train.rewards, train.advantages, cfg.run.log_samples, p.tokenizer)
        all_zero = None if train.learns_at_zero_advantage else bool(train.advantages.eq(0).all())
    else:  # dynamic sampling found no group with a reward spread: nothing to learn from
        print(f"step {step}: every group had equal rewards after {cfg.rollout.max_gen_rounds} "
              "generation rounds; no update", flush=True)
        p.rollouts.advance(step, p.model, updated=False)
    elapsed = time.time() - t0
    metrics.update({"time/update_s": elapsed - t_gen, "time/step_s": elapsed,
                    "update/skipped": float(not rollout.samples)})
    return metrics, rows, all_zero


def _train(cfg: Config, run_dir: Path, ckpt: Path | None, procs=ONE) -> dict:
    if procs.is_main:
        save_config(cfg, str(run_dir / "config.yaml"))
    p = _build(cfg, procs)
    try:
        start, before, after = 0, None, None
        if ckpt is not None:
            start, before, after = p.restore(ckpt)
            print(f"resuming {run_dir} from {ckpt.name}")
        log = procs.run_log(run_dir, resume_step=start if ckpt is not None else None, trackers=cfg.run.trackers,
                            config=cfg)
        held_out_eval = partial(_held_out_eval, p)
        if start == 0 and cfg.eval.before and p.held_out:
            before = held_out_eval("before training")
            log.log(0, _eval_metrics(before))
        health = RunHealth()
        t_run, after_seconds = time.time(), 0.0
        bar = tqdm(total=cfg.run.steps, initial=start, disable=not (cfg.run.progress and procs.is_main), desc="train",
                   dynamic_ncols=True)
        for step in range(start + 1, cfg.run.steps + 1):
            metrics, rows, all_zero = _step(p, step)
            last = step == cfg.run.steps
            if p.held_out and (cfg.eval.after if last else cfg.eval.every and step % cfg.eval.every == 0):
                # the evaluation after training goes in the last step's row, as a periodic one in its step's
                t_eval = time.time()
                result = held_out_eval("after training" if last else f"at step {step}")
                metrics.update(_eval_metrics(result))
                if last:  # kept apart: train_seconds counts training, as before
                    after, after_seconds = result, time.time() - t_eval
            log.log(step, metrics)
            health.check(step, metrics, all_zero)
            if rows:
                log.samples(step, rows)
            bar.update(1)
            bar.set_postfix({"reward": f"{metrics['reward/mean']:.3f}", "acc": f"{metrics['accuracy']:.3f}",
                             "len": f"{metrics['length/mean']:.0f}", "s/step": f"{metrics['time/step_s']:.1f}"})
            if last or (cfg.run.save_every and step % cfg.run.save_every == 0):
                weights = procs.full_weights(p.model)  # gathered whole with several processes
                for name, w in weights.items():  # never write a NaN checkpoint
                    check_finite(step, f"largest |value| of the weight {name}", float(w.detach().abs().max()))
                procs.save_checkpoint(run_dir, step, p.model, p.tokenizer, p.state(step, before, after), weights,
                                      keep=cfg.run.keep_checkpoints)
        bar.close()
        train_seconds = time.time() - t_run - after_seconds
        final = latest_checkpoint(run_dir)
        summary = {"run_dir": str(run_dir), "eval_before": before, "eval_after": after,
                   "train_seconds": train_seconds, "final_checkpoint": str(final) if final else None}
        if procs.is_main:
            _finish(log, run_dir, cfg, summary)
        return summary
    finally:
        p.close()


def _held_out_eval(p: Parts, label: str) -> dict:
    p.rollouts.settle()  # the engine is the evaluation's until the next generation starts
    t = time.time()
    res = evaluate(p.engine, p.held_out, p.render, p.reward_fn, max_new_tokens=p.eval_tokens,
                   progress=p.cfg.run.progress,
                   context=partial(prompt_context, cfg=p.cfg.data)).as_dict(examples=True)
    print(f"held-out greedy accuracy {label}: {res['accuracy']:.1%} of {res['problems']} problems "
          f"({time.time() - t:.0f}s)", flush=True)
    return res


def _eval_metrics(result: dict) -> dict[str, float]:
    return {f"eval/{k}": v for k, v in result.items() if k != "examples"}


def _sample_rows(rollout, rewards: torch.Tensor, advantages: torch.Tensor, n: int, tokenizer) -> list[dict]:
    """`n` completions spread evenly over the batch (so over several prompts), each with its tokens' text
    and the sampler's log-probs (the HTML report colours them)."""
    rows = []
    comps = rollout.completions
    for i in sorted({k * len(comps) // n for k in range(min(n, len(comps)))}):
        c = comps[i]
        s = rollout.samples[c.prompt_index]
        adv = advantages[i]
        rows.append({"prompt": s.prompt, "answer": s.answer, "completion": c.text,
                     "reward": float(rewards.reshape(-1)[i]),
                     "advantage": float(adv if adv.dim() == 0 else adv[adv != 0].mean() if adv.any() else 0.0),
                     "finish_reason": c.finish_reason,
                     "tokens": [tokenizer.decode([t]) for t in c.token_ids],
                     "token_logprobs": [round(float(x), 4) for x in c.logprobs],
                     "policy_version": rollout.policy_versions[i],  # RolloutQueue.next sets them
                     "verifiers": {k: {"reward": v.reward, **v.info} for k, v in rollout.verdicts[i].items()}})
    return rows


def _finish(log: RunLog, run_dir: Path, cfg: Config, summary: dict) -> None:
    history = log.history()
    atomic_write_text(run_dir / "eval.json", json.dumps(
        {"before": summary["eval_before"], "after": summary["eval_after"]}, indent=2))
    log.plot()
    log.close()
    ckpt = summary["final_checkpoint"]
    write_report(run_dir, config_yaml=config_to_yaml(cfg), before=summary["eval_before"],
                 after=summary["eval_after"], history=[r for r in history if r["step"] > 0],
                 seconds=summary["train_seconds"],
                 checkpoint=str(Path(ckpt).relative_to(run_dir)) if ckpt else None)
