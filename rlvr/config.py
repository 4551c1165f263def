"""The run configuration: nested frozen dataclasses, one docstring per field.

A run's config is built in layers: these defaults, then a YAML preset (which only lists
what it changes), then `--section.key=value` overrides from the command line. Unknown keys
and bad values are errors that name the key and what is allowed. The resolved config is
saved as `config.yaml` in every run folder, and `rlvr train --help` prints this schema.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Literal

import yaml

from rlvr.config_checks import mini_batch_size, rollout_batch_size, validate
from rlvr.configtools import (ConfigError, algo_preset_path, algo_presets, build, config_file, deep_merge,
                              describe, parse_overrides, preset_path, preset_summary, presets, read_yaml,
                              to_plain)
from rlvr.config_data import (ArithmeticConfig, CodeTaskConfig, DataConfig, DerivationsConfig, FewShot,  # noqa: F401
                               IFEvalTaskConfig, MultipartConfig)

__all__ = ["Config", "ConfigError", "load_config", "save_config", "describe", "replace", "algo_presets",
           "mini_batch_size", "preset_summary", "presets", "rollout_batch_size"]


@dataclass(frozen=True)
class RunConfig:
    name: str = "run"
    """Run name; the run folder is `runs/<name>/` unless `out` is set."""
    out: str = ""
    """Run folder. Empty means `runs/<name>/`. `rlvr train --out DIR` sets it."""
    seed: int = 0
    """Seed for every random choice: data order, sampling, tiny-model weights."""
    steps: int = 100
    """Number of training steps (one rollout batch and its optimisation each)."""
    save_every: int = 0
    """Write a checkpoint every N steps (0: only at the end). The last step is always saved."""
    keep_checkpoints: int = 0
    """How many newest checkpoints to keep (0: keep all)."""
    log_samples: int = 4
    """Completions per step written to `samples.jsonl` with their reward and verifier info."""
    threads: int = 0
    """torch intra-op threads (0: torch's default, usually the number of cores)."""
    progress: bool = True
    """Show a progress bar (metrics are logged either way)."""
    trackers: list[str] = field(default_factory=lambda: ["tensorboard"])
    """Where metrics, held-out evaluations, the config and sampled completions go besides
    metrics.jsonl and samples.jsonl: tensorboard, wandb, mlflow, trackio (each where its own
    settings say: WANDB_MODE, MLFLOW_TRACKING_URI, TRACKIO_DIR; docs/logging.md), or a plug-in
    'package.module:Class'. [] for none."""
    project: str = ""
    """Project (wandb, trackio) or experiment (MLflow) the run is logged under; empty: the
    tool's environment variable (WANDB_PROJECT, MLFLOW_EXPERIMENT_NAME), else "rlvr"."""
    backend: str = "local"
    """Where the rollout engine runs, a name in `rlvr.rollout.BACKENDS`: `local` (in this
    process) or `ray` (`rollout.workers` Ray actors, each with its own copy of the policy and
    its own `rollout.engine`; needs `pip install 'rlvr[ray]'`; docs/scale.md, "Ray")."""
    ray_address: str = ""
    """With `run.backend: ray`, the Ray cluster to join (`auto`, `HOST:6379`, or
    `ray://HOST:10001`); empty: start a local Ray on this machine for the run."""
    ray_object_store_mb: int = 512
    """Object-store memory (MiB) of the local Ray that `run.backend: ray` starts; it carries
    the weights pushed to the workers after each update (more spills to disk). Ignored when
    joining a cluster (`run.ray_address`), which has its own."""


@dataclass(frozen=True)
class LoraConfig:
    rank: int = 0
    """LoRA rank; 0 trains all weights (full fine-tuning)."""
    alpha: float = 32.0
    """LoRA scaling numerator (the update is scaled by alpha / rank)."""
    dropout: float = 0.0
    """Dropout on the LoRA input (0 keeps the run deterministic and resumable bit for bit)."""
    targets: list[str] = field(default_factory=lambda: [
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    """Names of the linear layers that receive adapters."""


@dataclass(frozen=True)
class ModelConfig:
    path: str = "smollm2-135m-instruct"
    """Policy: a Hugging Face folder, a `.gguf` file, the alias `smollm2-135m-instruct`, a hub id
    (`org/name`) already in the local Hugging Face cache (nothing is downloaded), or `tiny` (a
    random-weight model with a tokenizer made in code, for tests). docs/models.md lists them."""
    device: str = "auto"
    """Where the policy, its reference model, the critic and the rollout engine run, and every
    tensor of a step: `auto` (the first CUDA device when torch sees one, else the CPU), `cpu`,
    `cuda` or `cuda:N`. A CUDA device this machine lacks is a config error."""
    autocast: Literal["none", "bfloat16"] = "none"
    """Compute precision of the trainer's forward and backward passes (weights stay float32),
    on the model's device (`model.device`)."""
    activation_checkpointing: bool = False
    """Recompute activations in the backward pass: less memory, about a third more time."""
    lora: LoraConfig = field(default_factory=LoraConfig)
    """Low-rank adapters instead of full fine-tuning."""
    logprob_chunk: int = 1024
    """Tokens per chunk when computing log-probs (bounds the [chunk, vocab] logits tensor)."""


@dataclass(frozen=True)
class RolloutConfig:
    engine: str = "hf"
    """Rollout engine, a name in `rlvr.rollout.ENGINES` (`hf`: transformers in this process)
    or a plug-in `package.module:Class` implementing `rlvr.rollout.base.RolloutEngine`."""
    prompts_per_step: int = 8
    """Distinct prompts sampled per training step."""
    group_size: int = 8
    """Completions sampled per prompt (G); advantages compare completions within a group."""
    max_new_tokens: int = 128
    """Longest completion; longer ones stop with finish reason `length`."""
    temperature: float = 1.0
    """Sampling temperature (0: greedy). The trainer scores tokens at the same temperature."""
    top_p: float = 1.0
    """Nucleus sampling threshold (1: off)."""
    top_k: int = 0
    """Sample only among the k most likely tokens (0: off)."""
    batch_size: int = 64
    """Most sequences decoded at once."""
    dtype: Literal["float32", "bfloat16"] = "float32"
    """Weight precision of the engine's copy of the policy (bfloat16 decodes faster on CPUs
    with bf16 instructions; log-probs then differ slightly from the trainer's)."""
    dynamic_sampling: bool = False
    """DAPO's dynamic sampling: drop groups whose rewards are all equal and refill the batch
    with groups of fresh prompts, generating up to `max_gen_rounds` rounds per step."""
    max_gen_rounds: int = 10
    """Most generation rounds per step with dynamic sampling; a step that still lacks groups
    then trains on the ones it has (the metric `dynamic/short_groups` counts the gap)."""
    dynamic_filter: Literal["accuracy", "reward_spread"] = "accuracy"
    """Which groups dynamic sampling keeps: `accuracy` — some but not all completions correct
    by the accuracy verifier (DAPO Eq. 11); `reward_spread` — total rewards not all equal
    (shaping included; before issue 10 the only rule)."""
    oversample: float = 1.0
    """With dynamic sampling, prompts drawn per generation round as a multiple of
    `prompts_per_step` (verl's DAPO recipe draws 3×); surplus mixed groups are discarded."""
    sampler: str = ""
    """What a step generates, a name in `rlvr.samplers.SAMPLERS`; empty: chosen from the other
    settings (`dynamic` with `dynamic_sampling`, `greedy_baseline` when the method needs a
    greedy completion per prompt, else `groups`)."""
    workers: int = 1
    """Rollout workers with `run.backend: ray`: the prompts of each generation call are split
    between them, and a worker that dies is replaced and its prompts sampled again. 1 with
    `run.backend: local` (the engine in this process)."""
    worker_gpus: float = 0.0
    """GPUs each Ray rollout worker reserves (0: CPU workers); a worker with a GPU decodes on it."""
    max_staleness: int = 0
    """Asynchronous steps: generation runs this many steps ahead of training, overlapping the
    update (a rollout may come from weights up to k updates old; `staleness/*` logs by how
    many; `algo.correction` weights the stale samples). 0: the synchronous loop. docs/scale.md."""


@dataclass(frozen=True)
class VerifierSpec:
    name: str
    """Verifier name (see `rlvr verifiers`)."""
    weight: float = 1.0
    """Weight of this verifier's reward in the total."""
    options: dict[str, Any] = field(default_factory=dict)
    """Keyword options of the verifier, e.g. `answer_pattern` for `math`. The value `policy`
    of an option `model` (model-based verifiers) means the run's starting model, `model.path`."""
    gate: str = ""
    """Name of another verifier of the list that gates this one: this component counts only
    when the gate's reward reaches `gate_threshold` (e.g. correctness only with a right format)."""
    gate_threshold: float = 1.0
    """The gate's reward from which this component counts."""


@dataclass(frozen=True)
class RewardConfig:
    verifiers: list[VerifierSpec] = field(default_factory=lambda: [VerifierSpec("math")])
    """Verifiers whose weighted rewards sum to each completion's reward."""
    accuracy_from: str = ""
    """Verifier whose reward of 1 counts as a correct answer (empty: the first)."""
    workers: int = 2
    """Processes that run verifier calls in parallel."""
    timeout_s: float = 5.0
    """Hard time limit of one verifier call; past it the sample gets reward 0."""
    overlong_buffer: int = 0
    """DAPO's soft overlong punishment: a completion longer than max_new_tokens − buffer loses
    up to `overlong_penalty` linearly over the last `buffer` tokens (0: off)."""
    overlong_buffer_frac: float = 0.0
    """The same buffer as a fraction of `rollout.max_new_tokens` (DAPO: 4096 of 20480 = 0.2),
    used when `overlong_buffer` is 0; rounded, at least one token."""
    overlong_penalty: float = 1.0
    """Largest overlong punishment (reached at max_new_tokens)."""

    def overlong_tokens(self, max_new_tokens: int) -> int:
        """The soft-punishment buffer in tokens (0: off)."""
        if self.overlong_buffer or not self.overlong_buffer_frac:
            return self.overlong_buffer
        return max(1, round(self.overlong_buffer_frac * max_new_tokens))


@dataclass(frozen=True)
class AlgoConfig:
    method: str = ""
    """What a step learns, a name in `rlvr.methods.METHODS` (`policy_gradient`, `ppo`, `jepo`);
    empty: the method that trains with `advantage` (`gae` → ppo, `jepo` → jepo, else policy_gradient)."""
    advantage: str = "grpo"
    """Advantage estimator: a name in `rlvr.algos.advantages.ADVANTAGES` (from the group's
    rewards) or in `rlvr.algos.gae.TOKEN_ADVANTAGES` (`gae`: PPO with a learned critic)."""
    advantage_args: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the advantage function (e.g. `eps`, `scale_by_std`)."""
    loss: str = "ppo_clip"
    """Policy loss, a name in `rlvr.algos.losses.LOSSES`."""
    loss_args: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the loss (e.g. `clip_low`, `clip_high`)."""
    reduce: str = "seq_mean_token_mean"
    """How per-token terms become one number, a name in `rlvr.algos.reduce.REDUCE`
    (`seq_mean_token_mean` is the GRPO paper's 1/G Σ 1/|o| Σ)."""
    reduce_args: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the reduction (e.g. `budget` for `seq_mean_token_sum_norm`)."""
    kl: str = "k3"
    """KL estimator for the penalty against the reference model, a name in `rlvr.algos.kl.KL`."""
    kl_coef: float = 0.0
    """Weight β of the KL penalty in the loss (0: no reference model is loaded)."""
    kl_in_reward: bool = False
    """Put −β·KL on each token's reward (PPO-RLHF and REINFORCE++ convention) instead of β·KL
    in the loss (GRPO's)."""
    whiten_over: Literal["tokens", "sequences"] = "tokens"
    """REINFORCE++ (`reinforce_pp`, `reinforce_pp_baseline`): whiten each token's return —
    outcome reward (group-centred for the baseline variant) plus the KL-to-go — over every
    token of the batch (`tokens`, the paper's Eq. 8–10 and OpenRLHF), or whiten the sequence
    rewards and add the KL-to-go afterwards (`sequences`, rlvr before issue 10)."""
    entropy_coef: float = 0.0
    """Entropy bonus: subtract this × the token-mean entropy of the policy from the loss
    (1-shot RLVR uses 0.001)."""
    pg_coef: float = 1.0
    """Weight of the policy-gradient loss (0 with `entropy_coef` > 0: entropy-only training)."""
    correction: str = "none"
    """Rollout/trainer mismatch correction, a name in `rlvr.algos.correction.CORRECTIONS`
    (`tis_token`: truncated importance sampling, cap 2)."""
    correction_args: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of the correction (e.g. `cap`, `threshold`)."""
    filter: str = "none"
    """GFPO group filter, a name in `rlvr.algos.filters.GROUP_FILTERS` (`shortest`,
    `token_efficiency`) or `none`; only the kept responses get advantages."""
    filter_keep: int = 0
    """Responses kept per group by the filter (k < group_size)."""
    filter_adaptive_keep: list[int] = field(default_factory=list)
    """Adaptive-difficulty GFPO: four k's for prompts whose mean reward falls in the 1st..4th
    quartile of the prompts seen so far (e.g. [8, 8, 6, 4]); empty: always `filter_keep`."""
    mask_truncated: bool = False
    """DAPO's overlong filtering: completions cut off at max_new_tokens get no loss."""
    epochs: int = 1
    """Optimisation passes over each rollout batch (μ)."""
    mini_batch_size: int = 0
    """Sequences per optimizer step (0: the whole rollout batch, one step per rollout)."""
    mini_batches: int = 0
    """Alternatively, split each rollout batch into this many mini-batches (0: use
    `mini_batch_size`). GSPO uses 4."""


@dataclass(frozen=True)
class CriticConfig:
    lr: float = 1e-5
    """Learning rate of the value model (PPO, `algo.advantage: gae`)."""
    value_clip: float = 0.2
    """Clip range of the value loss around the old values (0: unclipped)."""
    whiten_advantages: bool = True
    """Normalise GAE advantages over the batch's tokens (mean 0, std 1)."""


@dataclass(frozen=True)
class JepoConfig:
    beta_sup: float = 1.0
    """Weight of the supervised term: the reference answer's log-likelihood bound (JEPO uses
    1 for long answers, 0–0.01 for short ones)."""
    marker: str = ""
    """Text that ends the chain of thought; a completion without it is ill-formatted. Empty:
    the whole completion is the chain of thought."""
    answer_prefix: str = "\nAnswer: "
    """Text placed between the chain of thought and the reference answer."""


@dataclass(frozen=True)
class VerificationShot:
    question: str
    """The question of a worked verification example."""
    solution: str
    """The solution the example rates."""
    completion: str
    """The example's verification: a short check that ends with the rating in a box."""


@dataclass(frozen=True)
class SelfVerifyConfig:
    enabled: bool = False
    """RISE online self-verification (arXiv 2505.13445): every step the policy also rates some
    of its own solutions and is rewarded for agreeing with the outcome verifier; the
    verification groups train in the same update as the generation groups."""
    solutions: int = 2
    """Solutions verified per step, spread over the step's groups and balanced between correct
    and incorrect ones; each adds a group of `rollout.group_size` verifications to the batch."""
    targets: Literal["rise", "binary"] = "rise"
    """The score a verification must write: `rise` — 1 correct, −0.5 wrong, −1 no final answer
    (the paper's outcome scale); `binary` — 1 correct, 0 otherwise."""
    reward: Literal["match", "rise"] = "match"
    """Reward of a verification: `match` — 1 for the target score, else 0; `rise` — the
    paper's: 1, −0.5 for another score, −1 for none."""
    template: str = ""
    """Verification prompt with the fields `{question}` and `{solution}` (other braces stay as
    written); empty: the built-in prompt for `targets`."""
    answer_pattern: str = ""
    """Regex whose last match (group 1 if any) is a verification's score; empty: the last
    `\\boxed{}` (the tiny model writes no box, so its tests use a digit pattern)."""
    few_shot: list[VerificationShot] = field(default_factory=list)
    """Worked verifications shown before the verification prompt, through the same template
    (the data's own `few_shot` examples show solving, not rating, and are not shown)."""


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 1e-6
    """Peak learning rate of AdamW."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    """AdamW betas."""
    warmup_steps: int = 0
    """Linear warm-up from 0 over this many optimizer steps, then constant."""
    grad_clip: float = 1.0
    """Clip the global gradient norm to this (0: no clipping)."""
    micro_batch_size: int = 8
    """Sequences per forward/backward pass; gradients accumulate over a mini-batch."""


@dataclass(frozen=True)
class EvalConfig:
    size: int = 200
    """Held-out problems evaluated with greedy decoding before the first and after the last step."""
    every: int = 0
    """Also evaluate every N steps (0: only before and after)."""
    before: bool = True
    """Evaluate before training."""
    after: bool = True
    """Evaluate after training."""
    max_new_tokens: int = 0
    """Longest evaluated completion (0: as in rollout)."""
    seed: int = 1234
    """Seed of the held-out set (the arithmetic task also keeps its problems out of training)."""


@dataclass(frozen=True)
class Config:
    run: RunConfig = field(default_factory=RunConfig)
    """Run bookkeeping."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """The policy."""
    data: DataConfig = field(default_factory=DataConfig)
    """Prompts and answers."""
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    """Sampling."""
    reward: RewardConfig = field(default_factory=RewardConfig)
    """Verifiers."""
    algo: AlgoConfig = field(default_factory=AlgoConfig)
    """Advantages, loss, KL."""
    optim: OptimConfig = field(default_factory=OptimConfig)
    """Optimizer and batching."""
    eval: EvalConfig = field(default_factory=EvalConfig)
    """Held-out evaluation."""
    critic: CriticConfig = field(default_factory=CriticConfig)
    """Value model (only with `algo.advantage: gae`)."""
    jepo: JepoConfig = field(default_factory=JepoConfig)
    """JEPO's answer-likelihood reward (only with `algo.advantage: jepo`)."""
    self_verify: SelfVerifyConfig = field(default_factory=SelfVerifyConfig)
    """RISE's online self-verification task (off by default)."""

    def __post_init__(self) -> None:
        validate(self)


def load_config(path: str | None = None, overrides: list[str] | dict | None = None, *,
                algo: str | None = None, reward: str | None = None) -> Config:
    """Defaults, then the YAML file at `path`, then the algorithm preset `algo` (`--algo=NAME`:
    `configs/algos/NAME.yaml`) and the reward preset `reward` (`--reward=NAME`:
    `configs/rewards/NAME.yaml`), then overrides (`--a.b=v` strings or a dict)."""
    data = _defaults()
    if path:
        data = deep_merge(data, read_yaml(config_file(path)))
    if algo:
        data = deep_merge(data, read_yaml(str(algo_preset_path(algo))))
    if reward:
        data = deep_merge(data, read_yaml(str(preset_path(reward, "rewards"))))
    if overrides:
        over = overrides if isinstance(overrides, dict) else parse_overrides(list(overrides))
        data = deep_merge(data, over)
    return build(Config, data)


def _defaults() -> dict:
    # Built field by field so that validation (which needs registries) runs once, at the end.
    from dataclasses import fields
    return {f.name: to_plain(f.default_factory()) for f in fields(Config)}


def save_config(cfg: Config, path: str) -> None:
    """Write the resolved config atomically: a kill mid-write leaves the old file whole."""
    from rlvr.runfiles import atomic_write_text
    atomic_write_text(path, config_to_yaml(cfg))


def config_to_yaml(cfg: Config) -> str:
    return yaml.safe_dump(to_plain(cfg), sort_keys=False, allow_unicode=True)
