"""Frozen pseudo-labels for label-free training: `rlvr label CONFIG --out FILE`.

SRT (arXiv 2505.21444) found that a policy rewarded by its own online majority vote can learn
to agree with itself instead of being right; one remedy it proposes is offline labels, voted
once by an earlier (or the starting) policy and kept fixed. This module samples N completions
per training prompt, votes as the `majority` verifier does (in the verifier pool, under its
time limits), and writes one JSONL row per prompt:

    {"prompt": question, "label": answer or null, "majority_ratio": share of the N samples,
     "samples": N, "label_correct": bool (only when the row has a reference)}

`majority` with `labels: FILE` then rewards agreement with these labels. The prompts are the
ones a run of the same config would draw first (`run.steps × rollout.prompts_per_step`, the
same seeded stream), each once.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from rlvr.configtools import ConfigError
from rlvr.eval.evaluate import generate_chunked
from rlvr.rollout.base import RolloutEngine, SamplingParams
from rlvr.types import Sample
from rlvr.verifiers.reward import RewardFunction, question_text, verifier_meta

# the voter finds answers as the run's own `majority` (or `math`) verifier does; reward-shaping
# options (`soft`, `min_agreement`, `labels`) do not apply to voting
VOTER_KEYS = ("answer_pattern", "hacking_guard", "answer_phrases", "timeout_s")


@dataclass
class LabelSummary:
    prompts: int
    """Distinct prompts voted on."""
    labelled: int
    """Prompts that got a label (at least one parsable answer)."""
    mean_majority_ratio: float
    """Mean share of the samples that agreed with the label (0 for unlabelled prompts)."""
    label_accuracy: float | None
    """Share of labelled prompts whose label equals the reference (None: no references)."""


def voter_options(verifier_specs: Sequence[Any]) -> dict:
    """Extraction options of the config's first `majority` (else `math`) verifier."""
    for wanted in ("majority", "math"):
        for spec in verifier_specs:
            if spec.name == wanted:
                return {k: v for k, v in spec.options.items() if k in VOTER_KEYS}
    return {}


def distinct_prompts(samples: Sequence[Sample]) -> list[Sample]:
    """`samples` without repeated questions, in order of first appearance."""
    seen: set[str] = set()
    out = []
    for s in samples:
        q = question_text(s.prompt)
        if q not in seen:
            seen.add(q)
            out.append(s)
    return out


def vote_labels(engine: RolloutEngine, samples: Sequence[Sample], render: Callable[[Sample], list[int]],
                voter: RewardFunction, *, n: int, sampling: SamplingParams, progress: bool = False,
                context: Callable[[Sample], str] | None = None) -> list[dict]:
    """One label row per sample from `n` sampled completions each; `voter` must score with
    the `majority` verifier first. `context(sample)`: the text the policy saw, so that answers
    copied from it do not vote (as in training)."""
    prompts = [render(s) for s in samples]
    completions = generate_chunked(engine, prompts, n, sampling, progress, f"label ({n} samples each)",
                            chunk=max(1, 64 // n))
    metas = [verifier_meta(s.prompt, s.meta, context(s) if context else "") for s in samples]
    scored = voter([c.text for c in completions], [s.answer for s in samples for _ in range(n)],
                   [m for m in metas for _ in range(n)], groups=[n] * len(samples))
    rows = []
    for p, s in enumerate(samples):
        info = scored.verdicts[p * n]["majority"].info
        if "error" in info:  # the vote timed out or crashed: no label for this prompt
            row = {"prompt": question_text(s.prompt), "label": None, "majority_ratio": 0.0, "samples": n,
                   "error": str(info["error"])}
        else:
            row = {"prompt": question_text(s.prompt), "label": info.get("label"),
                   "majority_ratio": float(info.get("majority_ratio", 0.0)), "samples": n}
            if "label_correct" in info:
                row["label_correct"] = bool(info["label_correct"])
        rows.append(row)
    return rows


def summarise(rows: Sequence[dict]) -> LabelSummary:
    labelled = [r for r in rows if r.get("label") is not None]
    judged = [r["label_correct"] for r in labelled if "label_correct" in r]
    return LabelSummary(prompts=len(rows), labelled=len(labelled),
                        mean_majority_ratio=sum(r["majority_ratio"] for r in rows) / max(1, len(rows)),
                        label_accuracy=sum(judged) / len(judged) if judged else None)


def write_label_file(rows: Sequence[dict], path: str | Path) -> None:
    """The rows as JSONL, written to a temporary file and renamed into place."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(out)


def make_labels(cfg: Any, *, out: str, checkpoint: str = "", samples: int = 0, limit: int = 0,
                seed: int = 0, progress: bool = True) -> LabelSummary:
    """Vote labels for the training prompts of `cfg` with its policy (or `checkpoint`) and
    write them to `out`. `samples`: completions per prompt (default `rollout.group_size`);
    `limit`: prompts drawn from the training stream (default `run.steps × prompts_per_step`)."""
    import torch

    from rlvr.checkpoint import latest_checkpoint
    from rlvr.data import PromptStream, prompt_context
    from rlvr.data.fit import PromptFitter, model_context
    from rlvr.models import load_policy
    from rlvr.rollout import build_engine

    if cfg.run.threads:
        torch.set_num_threads(cfg.run.threads)
    model_path = cfg.model.path
    if checkpoint:  # a checkpoint folder, or a run folder (its newest checkpoint)
        newest = latest_checkpoint(checkpoint)
        model_path = str(newest) if newest is not None else checkpoint
    n = samples or cfg.rollout.group_size
    if n < 1 or limit < 0:
        raise ConfigError(f"--samples must be at least 1 and --limit at least 0; got {samples}, {limit}")
    drawn = PromptStream(cfg.data, cfg.run.seed).next(limit or cfg.run.steps * cfg.rollout.prompts_per_step)
    rows_in = distinct_prompts(drawn)
    model, tokenizer = load_policy(model_path, seed=cfg.run.seed, device=cfg.model.device)
    model.eval()
    engine = build_engine(cfg.rollout.engine, model, tokenizer, dtype=cfg.rollout.dtype,
                          batch_size=cfg.rollout.batch_size, seed=seed)
    sampling = SamplingParams(max_new_tokens=cfg.rollout.max_new_tokens, temperature=cfg.rollout.temperature,
                              top_p=cfg.rollout.top_p, top_k=cfg.rollout.top_k, seed=seed)
    render = PromptFitter(tokenizer, cfg.data, context=model_context(model), max_new_tokens=cfg.rollout.max_new_tokens)
    render.check(rows_in, "training")
    voter = RewardFunction([("majority", 1.0, voter_options(cfg.reward.verifiers))],
                           workers=cfg.reward.workers, timeout_s=cfg.reward.timeout_s)
    try:
        with torch.no_grad():
            rows = vote_labels(engine, rows_in, render, voter, n=n,
                               sampling=sampling, progress=progress, context=lambda s: prompt_context(s, cfg.data))
    finally:
        voter.close()
    write_label_file(rows, out)
    return summarise(rows)
