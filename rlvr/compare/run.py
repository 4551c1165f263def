"""Training and evaluating the comparison's runs: one normal run folder per method and seed,
`OUT/runs/<method>/seed-<s>/`, each trained by `rlvr train` in a subprocess (so `--jobs N` runs
N at once, and a crash of one run is that run's alone).

Before anything runs, every run folder that exists is checked against the config it would
get now: a finished run is reused, an unfinished one resumed (`rlvr train --resume`, which
ends with the weights an uninterrupted run would have), and one trained with another config
is an error, since reusing it would compare something else than the spec says.

A budget in generated tokens: the loop stops on `run.steps`, and teaching it to stop on a
token count takes more than a line or two of rlvr/train.py (the count must survive a resume
and agree across processes), so the runner drives it from outside with the same exact resume.
It trains in segments, each short enough not to reach the budget at the largest per-step count
seen so far, and lets the last step be the first whose cumulative count reaches the budget;
a segment that overshoots (a step longer than any before it) has its checkpoints from that
step on deleted and is resumed to exactly that step. The run then equals a plain run of that
many steps. The held-out evaluation after training runs only at the last segment's end, except
when a one-step segment expected to reach the budget falls short (an extra evaluation row).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

from rlvr.checkpoint import checkpoint_dirs
from rlvr.compare import CompareError
from rlvr.compare.spec import Spec
from rlvr.compare.summary import generated_tokens, read_rows
from rlvr.config import Config, save_config
from rlvr.configtools import ConfigError, build, read_yaml
from rlvr.trackers.base import flat_config

IGNORED = ("run.out", "run.progress", "run.threads")
"""Keys that may differ between a run folder's config and the spec's: where it is, whether it
drew a progress bar, how many threads it used (set per job from `--jobs`)."""
TOKEN_SEGMENT_KEYS = ("run.steps", "eval.after")
"""With a tokens budget these are set segment by segment, so they are not compared either."""


@dataclass
class Job:
    method: str
    seed: int
    cfg: Config
    dir: Path
    rel: str
    """The run folder relative to OUT, as summary.json names it."""
    config_file: Path
    log: Path


def plan(spec: Spec, out: Path) -> list[Job]:
    """The comparison's runs, their configs written to OUT/configs/; every existing run folder
    checked against its config before any run starts."""
    jobs, mismatched = [], []
    for method in spec.methods:
        for seed in spec.seeds:
            rel = f"runs/{method.name}/seed-{seed}"
            run_dir = (out / rel).resolve()
            cfg = replace(method.configs[seed], run=replace(method.configs[seed].run, out=str(run_dir), progress=False))
            job = Job(method.name, seed, cfg, run_dir, rel, out.resolve() / "configs" / method.name / f"seed-{seed}.yaml",
                      out.resolve() / "logs" / f"{method.name}-seed-{seed}.log")
            if (diff := config_difference(job, spec)):
                mismatched.append(f"{rel}: {diff}")
            jobs.append(job)
    if mismatched:
        raise CompareError(f"{len(mismatched)} run folder(s) in {out} were trained with another config than the spec "
                           f"gives them:\n  " + "\n  ".join(mismatched) + "\npick another --out (or delete those "
                           "folders to train them again)")
    for job in jobs:
        job.config_file.parent.mkdir(parents=True, exist_ok=True)
        job.log.parent.mkdir(parents=True, exist_ok=True)
        save_config(job.cfg, str(job.config_file))
    return jobs


def config_difference(job: Job, spec: Spec) -> str:
    """'' when the run folder is new or its config.yaml equals the job's up to `IGNORED`; else
    the first differing keys, both values."""
    saved = job.dir / "config.yaml"
    if not saved.is_file():
        return ""
    try:
        there = flat_config(build(Config, read_yaml(str(saved))))
    except ConfigError as e:
        return f"its config.yaml does not load ({e})"
    here = flat_config(job.cfg)
    skip = set(IGNORED) | (set(TOKEN_SEGMENT_KEYS) if spec.budget_kind == "tokens" else set())
    keys = [k for k in sorted(set(there) | set(here)) if k not in skip and there.get(k) != here.get(k)]
    shown = ", ".join(f"{k}: {there.get(k)!r} there, {here.get(k)!r} here" for k in keys[:3])
    return shown + (f" (and {len(keys) - 3} more)" if len(keys) > 3 else "")


# ---------------------------------------------------------------------------- finished or not
def _checkpoint_steps(run_dir: Path) -> list[int]:
    return [int(p.name.split("-")[1]) for p in checkpoint_dirs(run_dir)]


def _final_eval_written(run_dir: Path) -> bool:
    try:
        return json.loads((run_dir / "eval.json").read_text(encoding="utf-8")).get("after") is not None
    except (OSError, ValueError):
        return False


def final_step(job: Job, spec: Spec) -> int | None:
    """The step of the run's final checkpoint when the run is finished (trained to its budget,
    evaluated after training), else None."""
    if spec.budget_kind == "steps":
        steps = spec.budget["steps"]
        return steps if steps in _checkpoint_steps(job.dir) and _final_eval_written(job.dir) else None
    segment = token_segment(_step_tokens(job.dir), spec.budget["tokens"], _per_step_estimate(job.cfg),
                            finished_at=_finished_at(job.dir))
    return _finished_at(job.dir) if segment is None else None


def _finished_at(run_dir: Path) -> int | None:
    """With a tokens budget: the step the run's saved config ended it at, if it got there with
    its final checkpoint and its evaluation after training."""
    try:
        run = read_yaml(str(run_dir / "config.yaml"))
    except ConfigError:
        return None
    steps, after = run.get("run", {}).get("steps"), run.get("eval", {}).get("after", True)
    ok = after and steps in _checkpoint_steps(run_dir) and _final_eval_written(run_dir)
    return steps if ok else None


def _step_tokens(run_dir: Path) -> list[int]:
    """Generated tokens of steps 1..(the newest checkpoint): the rows a resume keeps."""
    last = max(_checkpoint_steps(run_dir), default=0)
    rows = {r["step"]: r for r in read_rows(run_dir) if 0 < r["step"] <= last and "tokens/generated_per_s" in r}
    return [generated_tokens(rows[s]) for s in range(1, last + 1) if s in rows]


def _per_step_estimate(cfg: Config) -> int:
    """Before a run's first step: the most tokens a step can generate without dynamic sampling
    (every completion at max_new_tokens), times its rounds with it; an overshoot is repaired."""
    r = cfg.rollout
    rounds = r.max_gen_rounds * r.oversample if r.dynamic_sampling else 1
    return max(1, int(r.prompts_per_step * r.group_size * r.max_new_tokens * rounds))


@dataclass(frozen=True)
class Segment:
    steps: int
    """Train (or resume) to this run.steps."""
    eval_after: bool
    drop_from: int | None = None
    """Delete the checkpoints of this step and later first (an overshoot, or a last step that
    ran without the evaluation after training)."""


def token_segment(step_tokens: list[int], budget: int, first_estimate: int, *,
                  finished_at: int | None) -> Segment | None:
    """The next segment of a run with a budget of `budget` generated tokens, from the tokens
    of its steps so far (steps 1..newest checkpoint); None when it is finished at the first
    step whose cumulative count reaches the budget."""
    cum = 0
    for step, tokens in enumerate(step_tokens, 1):
        cum += tokens
        if cum >= budget:
            return None if finished_at == step else Segment(step, True, drop_from=step)
    per_step = max(step_tokens, default=first_estimate)
    if per_step <= 0:
        raise CompareError(f"steps 1..{len(step_tokens)} generated no tokens; a budget of {budget} tokens is never "
                           "reached")
    remaining = budget - cum
    if remaining <= per_step:  # the next step may be the last: evaluate after it
        return Segment(len(step_tokens) + 1, True)
    return Segment(len(step_tokens) + (remaining - 1) // per_step, False)  # stops short of the budget


# ---------------------------------------------------------------------------- running
class Runner:
    def __init__(self, spec: Spec, *, jobs: int, say) -> None:
        self.spec, self.jobs, self.say = spec, jobs, say
        self.threads = max(1, (os.cpu_count() or 1) // jobs)
        self._lock = threading.Lock()

    def _launch(self, job: Job, commands: list[list[str]]) -> None:
        """Run `rlvr` commands in a row in one subprocess (rlvr.compare.job), output to the job's log."""
        cmd = [sys.executable, "-m", "rlvr.compare.job", json.dumps(commands)]
        # a job's torch threads and OpenMP's must fit its share of the cores: OpenMP threads
        # spin while they wait, so oversubscribed jobs slow each other down many times over
        env = {**os.environ, "OMP_NUM_THREADS": str(self.threads)}
        with open(job.log, "a", encoding="utf-8") as fh:
            rc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env).returncode
        if rc:
            tail = "\n    ".join(job.log.read_text(encoding="utf-8", errors="replace").splitlines()[-8:])
            what = " then ".join(f"`rlvr {c[0]}`" for c in commands)
            raise CompareError(f"{job.rel}: {what} exited with status {rc}; its output is in {job.log}; "
                               f"last lines:\n    {tail}")

    def _train_args(self, job: Job, *extra: str) -> list[str]:
        threads = f"--run.threads={self.threads}"
        if (job.dir / "config.yaml").is_file():
            return ["train", "--resume", str(job.dir), threads, *extra]
        return ["train", str(job.config_file), "--out", str(job.dir), threads, *extra]

    def process(self, job: Job) -> str:
        """Train the job's run to its budget and evaluate its pass@k, whichever is not done
        yet; what happened, in words."""
        if final_step(job, self.spec) is not None:
            if not self._eval_needed(job):
                return "reused (finished)"
            self._launch(job, [self._eval_args(job)])
            return "reused (finished), pass@k evaluated"
        (job.dir / "passk.json").unlink(missing_ok=True)  # its checkpoint is about to change
        resumed = (job.dir / "config.yaml").is_file()
        if self.spec.budget_kind == "steps":  # training and evaluation in one process
            evaluation = [self._eval_args(job, self.spec.budget["steps"])] if self.spec.eval_k else []
            self._launch(job, [self._train_args(job), *evaluation])
        else:
            self._train_to_tokens(job)
            if self.spec.eval_k:
                self._launch(job, [self._eval_args(job)])
        if final_step(job, self.spec) is None or self._eval_needed(job):
            raise CompareError(f"{job.rel}: the run ended without its final checkpoint and evaluations; see {job.log}")
        return ("resumed" if resumed else "trained") + (", pass@k evaluated" if self.spec.eval_k else "")

    def _train_to_tokens(self, job: Job) -> None:
        budget, estimate = self.spec.budget["tokens"], _per_step_estimate(job.cfg)
        while (seg := token_segment(_step_tokens(job.dir), budget, estimate,
                                    finished_at=_finished_at(job.dir))) is not None:
            before = _checkpoint_steps(job.dir)
            if seg.drop_from is not None:
                for ckpt in checkpoint_dirs(job.dir):
                    if int(ckpt.name.split("-")[1]) >= seg.drop_from:
                        shutil.rmtree(ckpt)
            self._launch(job, [self._train_args(job, f"--run.steps={seg.steps}",
                                                f"--eval.after={'true' if seg.eval_after else 'false'}")])
            if _checkpoint_steps(job.dir) == before and seg.drop_from is None:
                raise CompareError(f"{job.rel}: a training segment to step {seg.steps} saved no checkpoint; see "
                                   f"{job.log}")

    def _eval_needed(self, job: Job) -> bool:
        if not self.spec.eval_k:
            return False
        ckpt = job.dir / "checkpoints" / f"step-{final_step(job, self.spec)}"
        return not _passk_current(job.dir / "passk.json", ckpt, self.spec)

    def _eval_args(self, job: Job, step: int | None = None) -> list[str]:
        """`rlvr eval` of the final checkpoint: pass@k on the run's own held-out problems."""
        ckpt = job.dir / "checkpoints" / f"step-{step or final_step(job, self.spec)}"
        return ["eval", "--model", str(ckpt), "--k", ",".join(map(str, self.spec.eval_k)),
                "--n", str(self.spec.eval_n), "--size", str(job.cfg.eval.size),
                "--temperature", str(self.spec.eval_temperature), "--seed", str(job.seed),
                "--threads", str(self.threads), "--json", str(job.dir / "passk.json"), "--no-progress"]

    def run(self, jobs: list[Job], progress: bool) -> None:
        """Every job trained and evaluated, `self.jobs` at once; the failures reported together
        at the end, after the other runs finished."""
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), desc="runs", disable=not progress, dynamic_ncols=True)
        failures: list[str] = []

        def one(job: Job) -> None:
            try:
                line = f"{job.rel}: {self.process(job)}"
            except CompareError as e:
                failures.append(str(e))
                line = f"{job.rel}: FAILED"
            with self._lock:
                bar.write(line) if progress else self.say(line)
                bar.update(1)

        with ThreadPoolExecutor(max_workers=self.jobs) as pool:
            list(pool.map(one, jobs))
        bar.close()
        if failures:
            raise CompareError(f"{len(failures)} of {len(jobs)} runs failed:\n" + "\n".join(failures))


def _passk_current(path: Path, ckpt: Path, spec: Spec) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (data.get("model_path") == str(ckpt) and data.get("n") == spec.eval_n
            and data.get("settings", {}).get("temperature") == spec.eval_temperature
            and all(f"pass@{k}" in data for k in spec.eval_k))
