"""Datasets: data as users have it (files, folders, globs, save_to_disk folders, the local hub
cache: `rlvr.data.sources`) and procedural generators, plus chat templating.

`PromptStream` hands the trainer batches of training samples and remembers its position,
so a resumed run continues with exactly the prompts it would have seen.
"""
from __future__ import annotations

import random
from typing import TYPE_CHECKING

from rlvr.data.arithmetic import ArithmeticTask
from rlvr.data.derivations import DerivationTask
from rlvr.data.chat import messages_for, render, render_options
from rlvr.data.files import DataError
from rlvr.data.reasoning_gym import ReasoningGymTask, is_rg_source
from rlvr.data.sources import check_sources, load_file, load_source
from rlvr.types import Sample

if TYPE_CHECKING:
    from rlvr.config import DataConfig

PROCEDURAL = ("arithmetic", "derivations", "ifeval", "code", "multipart")


def _procedural(name: str, cfg: "DataConfig", seed: int, split: str):
    if is_rg_source(name):
        return ReasoningGymTask(name, seed=seed, split=split, options=cfg.rg, eval_fraction=cfg.rg_eval_fraction)
    a = cfg.arithmetic
    if name == "multipart":
        from rlvr.data.multipart_task import MultipartTask
        m = cfg.multipart
        return MultipartTask(seed=seed, split=split, min_parts=m.min_parts, max_parts=m.max_parts,
                             min_operand=a.min_operand, max_operand=a.max_operand, ops=a.ops,
                             word_problems=a.word_problems, eval_fraction=a.eval_fraction)
    if name == "code":
        from rlvr.data.code_task import CodeTask
        c = cfg.code
        return CodeTask(seed=seed, split=split, tests_per_problem=c.tests_per_problem, templates=tuple(c.templates),
                        show_example=c.show_example, eval_fraction=a.eval_fraction)
    if name == "ifeval":
        from rlvr.data.ifeval_task import IFEvalTask
        f = cfg.ifeval
        return IFEvalTask(seed=seed, split=split, min_constraints=f.min_constraints, max_constraints=f.max_constraints,
                          eval_fraction=a.eval_fraction, constraint_ids=f.constraint_ids or None)
    if name == "derivations":
        d = cfg.derivations
        return DerivationTask(seed=seed, split=split, min_terms=d.min_terms, max_terms=d.max_terms,
                              max_operand=d.max_operand, eval_fraction=a.eval_fraction)
    return ArithmeticTask(seed=seed, split=split, min_operand=a.min_operand, max_operand=a.max_operand,
                          ops=a.ops, word_problems=a.word_problems, eval_fraction=a.eval_fraction)


class PromptStream:
    """Training samples in order: a procedural task's endless stream, or a file's rows
    reshuffled every epoch (seeded). With `train_limit` N, only the first N samples (of the
    stream, or of the file in its own order) are used, over and over."""

    def __init__(self, cfg: "DataConfig", seed: int) -> None:
        self.seed = seed
        self.shuffle = cfg.shuffle
        self.position = 0  # samples handed out so far
        if cfg.train in PROCEDURAL or is_rg_source(cfg.train):
            self.task, self.rows = _procedural(cfg.train, cfg, seed, "train"), None
            if cfg.train_limit:
                self.task, self.rows = None, self.task.take(cfg.train_limit)
        else:
            self.task, self.rows = None, load_source(cfg.train, cfg, "train")
            if cfg.train_limit:
                self.rows = self.rows[:cfg.train_limit]
        self._order_epoch, self._order = -1, []

    def _row(self, i: int) -> Sample:
        if self.task is not None:
            return self.task[i]
        epoch, j = divmod(i, len(self.rows))
        if epoch != self._order_epoch:
            self._order = list(range(len(self.rows)))
            if self.shuffle:
                random.Random(f"epoch:{self.seed}:{epoch}").shuffle(self._order)
            self._order_epoch = epoch
        return self.rows[self._order[j]]

    def first(self, n: int = 64) -> list[Sample]:
        """Every row of a file (or the first `n` of a procedural stream, whose rows are all
        built alike), for the checks made before training; the position does not move."""
        return self.rows if self.rows is not None else [self.task[i] for i in range(n)]

    def next(self, n: int) -> list[Sample]:
        out = [self._row(self.position + k) for k in range(n)]
        self.position += n
        return out

    def state_dict(self) -> dict:
        return {"position": self.position}

    def load_state_dict(self, state: dict) -> None:
        self.position = int(state["position"])


def eval_samples(cfg: "DataConfig", *, size: int, seed: int) -> list[Sample]:
    """The held-out set: a procedural task's eval split, or the first `size` rows of the data
    source (all rows when `size` is 0)."""
    if not cfg.eval:
        return []
    if cfg.eval in PROCEDURAL or is_rg_source(cfg.eval):
        return _procedural(cfg.eval, cfg, seed, "eval").take(size)
    rows = load_source(cfg.eval, cfg, "eval")
    return rows[:size] if size else rows


def prompt_ids(tokenizer, sample: Sample, cfg: "DataConfig") -> list[int]:
    return render(tokenizer, sample, **render_options(cfg))


def prompt_context(sample: Sample, cfg: "DataConfig") -> str:
    """Every text the policy sees before answering (system prompt, worked examples, question),
    for verifiers that must not credit an answer copied from it."""
    chat = messages_for(sample, template=cfg.prompt_template, system_prompt=cfg.system_prompt,
                        few_shot=cfg.few_shot)
    return "\n\n".join(str(m.get("content", "")) for m in chat)


def check_data_sources(cfg: "DataConfig") -> None:
    """Config-time checks of the data sources (`rlvr config`, the start of `rlvr train`)."""
    check_sources(cfg, PROCEDURAL, generated=is_rg_source)


__all__ = ["ArithmeticTask", "DataError", "DerivationTask", "PromptStream", "Sample", "check_data_sources",
           "eval_samples", "load_file", "load_source", "messages_for", "prompt_context", "prompt_ids", "render"]
