"""The `data` section of the run configuration: where prompts come from and how they are
shown (part of `rlvr.config`, kept apart so that each file stays small)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from rlvr.configtools import ConfigError




@dataclass(frozen=True)
class FewShot:
    prompt: str
    """The user turn of a worked example shown before the real question."""
    completion: str
    """The assistant turn of that example."""


@dataclass(frozen=True)
class ArithmeticConfig:
    min_operand: int = 10
    """Smallest operand of a generated problem."""
    max_operand: int = 99
    """Largest operand of a generated problem."""
    ops: list[Literal["+", "-", "*"]] = field(default_factory=lambda: ["+", "-"])
    """Operations to draw from. Subtraction never goes below zero."""
    word_problems: bool = False
    """Phrase problems as short stories instead of bare expressions."""
    eval_fraction: float = 0.1
    """Share of all distinct problems reserved for the held-out set (assigned by hash, so the
    train and held-out problems are disjoint whatever the seeds)."""


@dataclass(frozen=True)
class DerivationsConfig:
    min_terms: int = 3
    """Fewest numbers in a generated chain sum/difference."""
    max_terms: int = 4
    """Most numbers in a generated chain."""
    max_operand: int = 20
    """Largest number in a chain (the smallest is 1)."""


@dataclass(frozen=True)
class IFEvalTaskConfig:
    min_constraints: int = 1
    """Fewest instructions in a generated prompt."""
    max_constraints: int = 3
    """Most instructions in a generated prompt."""
    constraint_ids: list[str] = field(default_factory=list)
    """Instruction ids to draw from (empty: all; `rlvr.verifiers.ifeval.CONSTRAINTS` lists them)."""


@dataclass(frozen=True)
class CodeTaskConfig:
    tests_per_problem: int = 4
    """stdin/stdout test cases per generated programming problem."""
    templates: list[str] = field(default_factory=list)
    """Problem templates to draw from (empty: all of `rlvr.data.code_task`'s)."""
    show_example: bool = True
    """Show one input/output example in the prompt."""


@dataclass(frozen=True)
class MultipartConfig:
    min_parts: int = 2
    """Fewest sub-questions in a generated multi-part prompt (operands and ops: `data.arithmetic`)."""
    max_parts: int = 3
    """Most sub-questions in a generated multi-part prompt (at most 26: parts are (a)…(z))."""

    def __post_init__(self) -> None:
        if not 1 <= self.min_parts <= self.max_parts <= 26:
            raise ConfigError("'data.multipart' needs 1 ≤ min_parts ≤ max_parts ≤ 26")


@dataclass(frozen=True)
class DataConfig:
    train: str = "arithmetic"
    """Training prompts: a procedural task (`arithmetic`; `derivations`: chains of + and −
    whose reference answer is the whole step-by-step derivation; `ifeval`: writing tasks with
    checkable instructions; `code`: small stdin/stdout programs; `multipart`: several arithmetic
    sub-questions in one prompt), reasoning-gym tasks (`rg:chain_sum`; several:
    `rg:chain_sum,leg_counting`; weighted: `rg:chain_sum:2,leg_counting:1`; reward: the
    `reasoning_gym` verifier; needs the `gym` extra), or data: a `.jsonl` / `.json` / `.parquet` /
    `.arrow` file, a folder of them, a glob (`data/train-*.parquet`), a `datasets.save_to_disk`
    folder, or a hub dataset id already in the local `datasets` cache (`openai/gsm8k`; read with no
    network). docs/data.md lists every kind."""
    eval: str = "arithmetic"
    """Held-out prompts for the before/after evaluation: a procedural task, reasoning-gym tasks
    (`rg:…`, as in `train`; the held-out split of their questions), data (any kind `data.train`
    takes), or empty for none."""
    train_split: str = ""
    """Split of `data.train` when the source has several (a hub dataset, a save_to_disk
    DatasetDict, a folder whose file names say the split; TRL's `dataset_train_split`): empty
    takes `train`, or the only split; a name given must exist."""
    eval_split: str = ""
    """Split of `data.eval` when the source has several (TRL's `dataset_test_split`): empty takes
    `test`, or the only split; a name given must exist."""
    subset: str = ""
    """Configuration of a hub dataset (`main` of openai/gsm8k; TRL's `dataset_config`, the
    `name` of `datasets.load_dataset`); empty: its only one."""
    train_limit: int = 0
    """Train on only the first N training prompts, repeated (1: the 1-shot RLVR setting); 0: all."""
    prompt_field: str = "prompt"
    """Field of a data row that holds the question (a string, or a list of chat messages); a
    dotted path reaches into nested objects."""
    answer_field: str = "answer"
    """Field of a data row that holds the reference answer; a dotted path reaches into nested
    objects (`reward_model.ground_truth` for verl's Parquet files)."""
    prompt_template: str = "{prompt}"
    """User message built from a row; `{prompt}` is replaced by the question."""
    system_prompt: str = ""
    """System message; empty keeps the tokenizer's default (if its template has one)."""
    few_shot: list[FewShot] = field(default_factory=list)
    """Worked examples placed before the question as earlier chat turns."""
    prompt_format: Literal["auto", "chat", "raw"] = "auto"
    """How a prompt becomes tokens: `chat` — the tokenizer's chat template; `raw` — plain text
    for base models without one (the system prompt, then `Question: …` / `Answer: …` blocks for
    the worked examples, then `Question: <question>` and `Answer:`; docs/models.md); `auto` —
    `chat` when the tokenizer has a template, else `raw` (said once on stderr)."""
    chat_template_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra variables for the tokenizer's chat template, e.g. `{enable_thinking: false}` for
    Qwen3 or `{chat_template: "..."}` to give a model without one a template; only with the
    `chat` format."""
    shuffle: bool = True
    """Shuffle file-based training data every epoch (seeded)."""
    truncate: Literal["error", "left"] = "error"
    """A prompt that leaves no room for `max_new_tokens` in the model's context: `error` stops
    the run before the first step, naming the row; `left` keeps its last tokens (counted in
    the metric `data/truncated_prompts`)."""
    arithmetic: ArithmeticConfig = field(default_factory=ArithmeticConfig)
    """Options of the procedural arithmetic task."""
    derivations: DerivationsConfig = field(default_factory=DerivationsConfig)
    """Options of the procedural derivations task (long reference answers, for JEPO)."""
    ifeval: IFEvalTaskConfig = field(default_factory=IFEvalTaskConfig)
    """Options of the procedural instruction-following task (reward: the `ifeval` verifier)."""
    code: CodeTaskConfig = field(default_factory=CodeTaskConfig)
    """Options of the procedural programming task (reward: the `code` verifier)."""
    multipart: MultipartConfig = field(default_factory=MultipartConfig)
    """Options of the procedural multi-part task (`multipart`: 2–3 arithmetic sub-questions, the
    list of answers as reference; reward: the `partial` verifier)."""
    rg: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Options of the reasoning-gym tasks of an `rg:` source, by task, passed to
    `reasoning_gym.create_dataset` (e.g. `{chain_sum: {min_terms: 2, max_terms: 3}}`)."""
    rg_eval_fraction: float = 0.2
    """Share of each reasoning-gym task's distinct questions reserved for the held-out set
    (assigned by a hash of the question, so no held-out question is ever trained on)."""
