"""The training loop, top to bottom.

Each step: collect prompts, G completions per prompt and their rewards (rlvr.collect) →
advantages → optimisation epochs over mini-batches with gradient accumulation
(rlvr.update) → update the rollout engine's weights → log → evaluate / checkpoint.
Which method runs is a matter of registry names in `cfg.algo` (see `rlvr algos`); the few
structural variants have one place each here: a reference model (KL), a critic (PPO's
`gae`), the answer-likelihood batch of JEPO, and RISE's self-verification groups
(rlvr.self_verify).

Where this deviates from the GRPO paper (arXiv 2402.03300), on purpose:
- The KL penalty is off by default (β = 0, as in TRL and Dr. GRPO); set `algo.kl_coef` to
  load a frozen reference model and add β·KL to the loss, the paper's placement.
- Sequences whose advantage is zero (groups with equal rewards) skip their forward and
  backward passes when every loss term is linear in the advantage: their contribution is
  exactly zero, and the denominators still count them.
"""
from __future__ import annotations

import copy
import json
import random
import time
from functools import partial
from pathlib import Path

import torch
from tqdm.auto import tqdm

from rlvr.algos import ADVANTAGES, KL
from rlvr.algos.gae import TOKEN_ADVANTAGES
from rlvr.algos.jepo import jepo_answer_weights, jepo_evidence
from rlvr.answer_likelihood import jepo_batch, score_answers
from rlvr.batching import collate, score
from rlvr.checkpoint import (checkpoint_dirs, latest_checkpoint, load_checkpoint, newest_good_checkpoint,
                             remove_partial_checkpoints, rng_state, save_checkpoint, set_rng_state)
from rlvr.collect import Collected, collect
from rlvr.config import Config, config_to_yaml, save_config
from rlvr.critic import ValueModel, score_values
from rlvr.data import PromptStream, eval_samples, prompt_context
from rlvr.data.fit import PromptFitter, model_context
from rlvr.eval import evaluate
from rlvr.health import RunHealth
from rlvr.models import load_policy
from rlvr.rollout import build_engine
from rlvr.runfiles import (DiskFull, NotAFolder, RunExists, RunLock, RunLocked, atomic_write_text,
                           disk_full_reported_once, is_disk_full)
from rlvr.runlog import RunLog, write_report
from rlvr.self_verify import SelfVerification
from rlvr.update import (DifficultyHistory, NonFiniteError, add_kl_to_go, check_finite, critic_update,
                         policy_update, sequence_advantages, token_advantages)
from rlvr.verifiers.reward import build_reward_function

__all__ = ["RunExists", "build_policy", "claim_run_dir", "policy_update", "run_dir_of", "train"]


def _candidates(cfg: Config):
    if cfg.run.out:
        yield Path(cfg.run.out)
        return
    base, n = Path("runs") / cfg.run.name, 1
    yield base
    while True:
        n += 1
        yield base.with_name(f"{base.name}-{n}")


def run_dir_of(cfg: Config) -> Path:
    """`run.out`, or `runs/<name>` — then `runs/<name>-2`, `-3`... if that already holds a run,
    so that running the same preset twice never collides."""
    return next(c for c in _candidates(cfg) if cfg.run.out or not checkpoint_dirs(c))


def claim_run_dir(cfg: Config, *, resume: bool = False) -> tuple[Path, RunLock]:
    """The run folder (as `run_dir_of` picks it), created and locked for this process. Without
    `run.out`, a folder that holds checkpoints or that another live run holds is passed over
    for the next name; with it, either is an error (`RunExists`, `RunLocked`) — unless
    resuming, which needs the checkpoints."""
    for candidate in _candidates(cfg):
        if candidate.exists() and not candidate.is_dir():
            raise NotAFolder(f"the run folder {candidate} is a file; give --out a folder")
        try:
            candidate.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise NotAFolder(f"cannot create the run folder {candidate}: {e.strerror}") from None
        lock = RunLock(candidate)
        try:
            lock.acquire()
        except RunLocked:
            if cfg.run.out:
                raise
            continue
        if resume or not checkpoint_dirs(candidate):
            for stale in candidate.glob(".*.tmp"):  # a killed run's half-written file; we hold the lock
                stale.unlink(missing_ok=True)
            return candidate, lock
        lock.release()
        if cfg.run.out:
            raise RunExists(f"{candidate} already holds checkpoints; resume it with `rlvr train --resume "
                            f"{candidate}` or choose another folder with --out")
    raise AssertionError("unreachable: the candidates never end")


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


def _eval_metrics(result: dict) -> dict[str, float]:
    return {f"eval/{k}": v for k, v in result.items() if k != "examples"}


def _sample_rows(got: Collected, rewards: torch.Tensor, advantages: torch.Tensor, n: int) -> list[dict]:
    """`n` completions spread evenly over the batch (so over several prompts)."""
    rows = []
    comps = got.completions
    for i in sorted({k * len(comps) // n for k in range(min(n, len(comps)))}):
        c = comps[i]
        s = got.samples[c.prompt_index]
        adv = advantages[i]
        rows.append({"prompt": s.prompt, "answer": s.answer, "completion": c.text,
                     "reward": float(rewards.reshape(-1)[i]),
                     "advantage": float(adv if adv.dim() == 0 else adv[adv != 0].mean() if adv.any() else 0.0),
                     "finish_reason": c.finish_reason,
                     "verifiers": {k: {"reward": v.reward, **v.info} for k, v in got.verdicts[i].items()}})
    return rows


def train(cfg: Config, *, resume: bool = False) -> dict:
    """Run (or resume) training as configured; returns the summary also written to report.md.
    The run folder stays locked until this returns."""
    run_dir, lock = claim_run_dir(cfg, resume=resume)
    try:
        with disk_full_reported_once():
            return _resume_and_train(cfg, run_dir, resume)
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
        lock.release()


def _resume_and_train(cfg: Config, run_dir: Path, resume: bool) -> dict:
    ckpt = None
    if resume:
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
    return _train(cfg, run_dir, ckpt)


def _train(cfg: Config, run_dir: Path, ckpt: Path | None) -> dict:
    save_config(cfg, str(run_dir / "config.yaml"))
    stream = PromptStream(cfg.data, cfg.run.seed)  # a bad data file fails before the model loads
    held_out = eval_samples(cfg.data, size=cfg.eval.size, seed=cfg.eval.seed)
    eval_tokens = cfg.eval.max_new_tokens or cfg.rollout.max_new_tokens
    if cfg.run.threads:
        torch.set_num_threads(cfg.run.threads)
    random.seed(cfg.run.seed)
    torch.manual_seed(cfg.run.seed)

    # -- model, reference, critic, rollout engine, optimizers ---------------------------
    a = cfg.algo
    model, tokenizer = build_policy(cfg)
    ref_model = None
    if a.kl_coef > 0:  # frozen copy of the initial policy
        ref_model = copy.deepcopy(model).eval().requires_grad_(False)
    critic = critic_opt = None
    if a.advantage in TOKEN_ADVANTAGES:  # PPO: a value model initialised from the policy
        critic = ValueModel(model).train()
        critic_opt = torch.optim.AdamW(critic.parameters(), lr=cfg.critic.lr, betas=tuple(cfg.optim.betas))
    jepo = a.advantage == "jepo"
    engine = build_engine(cfg.rollout.engine, model, tokenizer, dtype=cfg.rollout.dtype,
                          batch_size=cfg.rollout.batch_size, seed=cfg.run.seed)
    o = cfg.optim
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=o.lr,
                                  betas=tuple(o.betas), weight_decay=o.weight_decay)
    warmup = o.warmup_steps
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min(1.0, (s + 1) / warmup) if warmup else 1.0)
    # every file row must fit the context with room for the completion (or is cut, if asked)
    render = PromptFitter(tokenizer, cfg.data, context=model_context(model),
                          max_new_tokens=max(cfg.rollout.max_new_tokens, eval_tokens))
    render.check(stream.rows or [], "training")
    render.check(held_out, "held-out")
    history = DifficultyHistory()
    health = RunHealth()
    reward_fn = build_reward_function(cfg)
    self_verify = SelfVerification(cfg, tokenizer) if cfg.self_verify.enabled else None  # RISE's task
    try:
        start, before, after = 0, None, None
        if ckpt is not None:
            state = load_checkpoint(ckpt, model)
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            engine.load_state_dict(state["engine"])
            stream.load_state_dict(state["data"])
            history.load_state_dict(state.get("difficulty", {"values": []}))
            if critic is not None:
                critic.load_state_dict(state["critic"])
                critic_opt.load_state_dict(state["critic_optimizer"])
            set_rng_state(state["rng"])
            engine.update_weights(model)
            start, before = state["step"], state.get("eval_before")
            print(f"resuming {run_dir} from {ckpt.name}")
        log = RunLog(run_dir, resume_step=start if ckpt is not None else None)

        def held_out_eval(label: str) -> dict:
            t = time.time()
            res = evaluate(engine, held_out, render, reward_fn, max_new_tokens=eval_tokens,
                           progress=cfg.run.progress,
                           context=partial(prompt_context, cfg=cfg.data)).as_dict(examples=True)
            print(f"held-out greedy accuracy {label}: {res['accuracy']:.1%} of {res['problems']} problems "
                  f"({time.time() - t:.0f}s)", flush=True)
            return res

        if start == 0 and cfg.eval.before and held_out:
            before = held_out_eval("before training")
            log.log(0, _eval_metrics(before))

        opts = dict(temperature=cfg.rollout.temperature or 1.0, chunk_size=cfg.model.logprob_chunk,
                    precision=cfg.model.autocast)
        mb = o.micro_batch_size
        needs_greedy = getattr(ADVANTAGES.get(a.advantage), "needs_greedy_rewards", False)
        t_run = time.time()
        bar = tqdm(total=cfg.run.steps, initial=start, disable=not cfg.run.progress, desc="train",
                   dynamic_ncols=True)
        for step in range(start + 1, cfg.run.steps + 1):
            t0 = time.time()
            # 1–3. prompts → G completions each → rewards (dynamic sampling, shaping, greedy baselines)
            got = collect(stream, engine, reward_fn, render, cfg, greedy=needs_greedy)
            if self_verify is not None:  # RISE: groups of the policy rating some of these solutions join the batch
                got = self_verify.extend(got, engine)
            t_gen = time.time() - t0  # generation and rewards
            metrics = dict(got.metrics)
            if cfg.data.truncate == "left":
                metrics["data/truncated_prompts"], render.truncated = float(render.truncated), 0
            advantages = rewards = torch.zeros(0)
            if got.samples:
                # 4. the batch; JEPO continues each chain of thought with the reference answer
                answer_weights = None
                if jepo:
                    batch, valid = jepo_batch(tokenizer, got.samples, got.prompts, got.completions,
                                              marker=cfg.jepo.marker, answer_prefix=cfg.jepo.answer_prefix)
                    ell = score_answers(model, batch, valid, micro_batch_size=mb, **opts).view(-1, cfg.rollout.group_size)
                    rewards = ell  # JEPO's "reward": the reference answer's log-likelihood
                    bound = a.advantage_args.get("bound", "multi")  # the bound the advantages use
                    answer_weights = (cfg.jepo.beta_sup * jepo_answer_weights(ell, bound=bound) / len(ell)).reshape(-1)
                    evidence = jepo_evidence(ell, bound=bound)
                    metrics.update({"jepo/evidence": float(evidence[evidence.isfinite()].mean()),
                                    "jepo/valid_frac": float(valid.float().mean())})
                else:
                    batch = collate(got.prompts, got.completions, tokenizer.pad_token_id)
                    rewards = got.rewards
                if a.mask_truncated:  # DAPO's overlong filtering
                    batch.row_weight = torch.tensor([c.finish_reason != "length" for c in got.completions],
                                                    dtype=torch.float32)
                mask = batch.mask
                # 5. advantages: from the group's rewards, or GAE over a critic's values
                old_logp = ref_logp = kl = None
                if a.kl_in_reward:  # KL on the reward needs π_old and π_ref before the update
                    old_logp = score(model, batch, micro_batch_size=mb, **opts)
                    ref_logp = score(ref_model, batch, micro_batch_size=mb, **opts)
                    kl = KL[a.kl](old_logp, ref_logp) * mask
                    metrics["kl"] = float(kl.sum() / mask.sum().clamp(min=1))
                if critic is not None:
                    values = score_values(critic, batch, micro_batch_size=mb, precision=cfg.model.autocast)
                    advantages, returns = token_advantages(cfg, rewards, mask, values, kl)
                else:
                    lengths = torch.tensor([len(c.token_ids) for c in got.completions]).view_as(rewards)
                    seq_adv, fm = sequence_advantages(cfg, rewards, lengths, greedy_rewards=got.greedy_rewards,
                                                      history=history)
                    metrics.update(fm)
                    advantages = seq_adv.reshape(-1)
                    if kl is not None:
                        advantages = add_kl_to_go(advantages, kl, mask, a.kl_coef)
                # 6. optimisation of the policy (and of the critic)
                metrics.update(policy_update(model, ref_model, batch, advantages, cfg=cfg, optimizer=optimizer,
                                             scheduler=scheduler, step=step, old_logp=old_logp,
                                             answer_weights=answer_weights))
                if critic is not None:
                    metrics.update(critic_update(critic, batch, returns, values, cfg=cfg, optimizer=critic_opt,
                                                 step=step))
                # 7. the engine samples from the new weights from now on
                engine.update_weights(model)
            else:  # dynamic sampling found no group with a reward spread: nothing to learn from
                print(f"step {step}: every group had equal rewards after {cfg.rollout.max_gen_rounds} "
                      "generation rounds; no update", flush=True)
            # 8. log
            elapsed = time.time() - t0
            metrics.update({"time/update_s": elapsed - t_gen, "time/step_s": elapsed,
                            "update/skipped": float(not got.samples)})
            if cfg.eval.every and step % cfg.eval.every == 0 and step != cfg.run.steps and held_out:
                metrics.update(_eval_metrics(held_out_eval(f"at step {step}")))
            log.log(step, metrics)
            health.check(step, metrics, None if not got.samples or jepo or a.entropy_coef  # those learn at Â = 0
                         else bool(advantages.eq(0).all()))
            if got.samples:
                log.samples(step, _sample_rows(got, rewards, advantages, cfg.run.log_samples))
            bar.update(1)
            bar.set_postfix({"reward": f"{metrics['reward/mean']:.3f}", "acc": f"{metrics['accuracy']:.3f}",
                             "len": f"{metrics['length/mean']:.0f}", "s/step": f"{elapsed:.1f}"})
            # 9. checkpoint
            if step == cfg.run.steps or (cfg.run.save_every and step % cfg.run.save_every == 0):
                for name, p in model.named_parameters():  # never write a NaN checkpoint
                    check_finite(step, f"largest |value| of the weight {name}", float(p.detach().abs().max()))
                extra = {"critic": critic.state_dict(), "critic_optimizer": critic_opt.state_dict()} if critic else {}
                save_checkpoint(run_dir, step, model, tokenizer, {
                    "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "engine": engine.state_dict(), "data": stream.state_dict(), "rng": rng_state(),
                    "difficulty": history.state_dict(), "eval_before": before, **extra},
                    keep=cfg.run.keep_checkpoints)
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
        if self_verify is not None:
            self_verify.close()


def _finish(log: RunLog, run_dir: Path, cfg: Config, summary: dict) -> None:
    history = log.history()
    atomic_write_text(run_dir / "eval.json", json.dumps(
        {"before": summary["eval_before"], "after": summary["eval_after"]}, indent=2))
    log.plot(after=(cfg.run.steps, summary["eval_after"]["accuracy"]) if summary["eval_after"] else None)
    log.close()
    ckpt = summary["final_checkpoint"]
    write_report(run_dir, config_yaml=config_to_yaml(cfg), before=summary["eval_before"],
                 after=summary["eval_after"], history=[r for r in history if r["step"] > 0],
                 seconds=summary["train_seconds"],
                 checkpoint=str(Path(ckpt).relative_to(run_dir)) if ckpt else None)
