"""Cross-field checks of a `Config` and the registry names it refers to.

Run by `Config.__post_init__`, so no config object exists that fails them. Every error is a
`ConfigError` that names the key and what is allowed. The method, the sampler and the engine
a config chooses check their own sections (`check_config` of each). Nothing here imports
`rlvr.config` (it imports this module), and nothing here starts a process: verifier options
are checked by constructing the verifier, which loads nothing heavy.
"""
from __future__ import annotations

import importlib.util

from rlvr.algos.advantages import ADVANTAGES
from rlvr.algos.correction import CORRECTIONS
from rlvr.algos.filters import GROUP_FILTERS
from rlvr.algos.gae import TOKEN_ADVANTAGES
from rlvr.algos.kl import KL
from rlvr.algos.losses import LOSSES
from rlvr.algos.reduce import REDUCE
from rlvr.configtools import ConfigError, check_kwargs
from rlvr.data.chat import RESERVED_TEMPLATE_KWARGS
from rlvr.data.reasoning_gym import check_config as check_reasoning_gym
from rlvr.devices import check_device
from rlvr.methods import METHODS, method_class, method_name
from rlvr.methods.objective import mini_batch_size, rollout_batch_size
from rlvr.rollout import BACKENDS, ENGINES, engine_class
from rlvr.samplers import SAMPLERS, sampler_class, sampler_name
from rlvr.trackers import TRACKERS, missing_modules, tracker_class
from rlvr.verifiers import REGISTRY, is_foreign, verifier_class
from rlvr.verifiers.reward import run_options
from rlvr.verifiers.ifeval import CONSTRAINTS

RAY_MIN_OBJECT_STORE_MB = 80  # Ray refuses an object store under 75 MiB


def validate(cfg) -> None:
    """Cross-field checks and registry names (each error names its key)."""
    a = cfg.algo
    check_device(cfg.model.device)
    advantages = {**ADVANTAGES, **TOKEN_ADVANTAGES}
    filters = {"none": None, **GROUP_FILTERS}
    for key, name, registry, args, reserved in (
            ("algo.advantage", a.advantage, advantages, a.advantage_args, ("greedy_rewards",)),
            ("algo.loss", a.loss, LOSSES, a.loss_args, ("reduce",)),
            ("algo.reduce", a.reduce, REDUCE, a.reduce_args, ("total_tokens", "total_seqs", "batch_lengths")),
            ("algo.kl", a.kl, KL, None, ()),
            ("algo.correction", a.correction, CORRECTIONS, a.correction_args, ()),
            ("algo.filter", a.filter, filters, None, ())):
        if name not in registry:
            raise ConfigError(f"bad value {name!r} for '{key}'; allowed values: {', '.join(sorted(registry))}")
        if args is not None:
            check_kwargs(registry[name], args, key + "_args", reserved=reserved)
    if cfg.rollout.engine not in ENGINES and ":" not in cfg.rollout.engine:
        raise ConfigError(f"bad value {cfg.rollout.engine!r} for 'rollout.engine'; allowed values: "
                          f"{', '.join(sorted(ENGINES))}, or a plug-in 'package.module:Class'")
    try:
        engine = engine_class(cfg.rollout.engine)  # the module only: a back end such as vLLM loads when built
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"cannot import 'rollout.engine' {cfg.rollout.engine!r}: {e}") from None
    if hasattr(engine, "check_config"):
        engine.check_config(cfg)  # e.g. vllm: the package is installed, a head size it takes
    if a.method and a.method not in METHODS and ":" not in a.method:
        raise ConfigError(f"bad value {a.method!r} for 'algo.method'; allowed values: {', '.join(sorted(METHODS))}, "
                          "or a plug-in 'package.module:Class'")
    try:
        method = method_class(cfg)
    except (ImportError, AttributeError) as e:
        raise ConfigError(f"cannot import 'algo.method' {a.method!r}: {e}") from None
    if a.advantage not in method.advantages:
        raise ConfigError(f"'algo.method' {method_name(cfg)} does not train with 'algo.advantage' {a.advantage!r}; "
                          f"it trains with: {', '.join(method.advantages)}")
    if a.pg_coef == 0 and a.entropy_coef == 0 and a.kl_coef == 0:
        raise ConfigError("'algo.pg_coef' is 0 and there is no entropy or KL term: nothing to train")
    if a.kl_in_reward and a.kl_coef == 0:
        raise ConfigError("'algo.kl_in_reward' needs 'algo.kl_coef' > 0")
    if a.mini_batch_size and a.mini_batches:
        raise ConfigError("set either 'algo.mini_batch_size' or 'algo.mini_batches', not both")
    if cfg.reward.overlong_tokens(cfg.rollout.max_new_tokens) >= cfg.rollout.max_new_tokens:
        raise ConfigError(f"'reward.overlong_buffer' ({cfg.reward.overlong_tokens(cfg.rollout.max_new_tokens)} "
                          f"tokens) must be below 'rollout.max_new_tokens' ({cfg.rollout.max_new_tokens})")
    if cfg.rollout.oversample < 1:
        raise ConfigError(f"bad value {cfg.rollout.oversample!r} for 'rollout.oversample'; must be at least 1")
    if not 0 <= cfg.reward.overlong_buffer_frac < 1:
        raise ConfigError("'reward.overlong_buffer_frac' must be in [0, 1)")
    f = cfg.data.ifeval
    if not 1 <= f.min_constraints <= f.max_constraints:
        raise ConfigError("'data.ifeval' needs 1 ≤ min_constraints ≤ max_constraints")
    unknown = [c for c in f.constraint_ids if c not in CONSTRAINTS]
    if unknown:
        raise ConfigError(f"unknown ids in 'data.ifeval.constraint_ids': {', '.join(unknown)}; "
                          f"allowed values: {', '.join(sorted(CONSTRAINTS))}")
    _check_prompt_format(cfg.data)
    d = cfg.data.derivations
    if not 2 <= d.min_terms <= d.max_terms or d.max_operand < 1:
        raise ConfigError("'data.derivations' needs 2 ≤ min_terms ≤ max_terms and max_operand ≥ 1")
    for i, spec in enumerate(cfg.reward.verifiers):
        try:
            cls = verifier_class(spec.name)
        except ValueError as e:
            if is_foreign(spec.name):  # the file, the module or the function: say which, and why
                raise ConfigError(f"bad value {spec.name!r} for 'reward.verifiers[{i}].name': {e}") from None
            why = f" ({e})" if ":" in spec.name else ""  # an import path: why it did not import
            raise ConfigError(f"bad value {spec.name!r} for 'reward.verifiers[{i}].name'{why}; allowed values: "
                              f"{', '.join(sorted(REGISTRY))}, 'trl:MODULE_OR_FILE:FUNCTION', "
                              "'verl:MODULE_OR_FILE:FUNCTION', or an importable 'package.module:ClassName'") from None
        check_kwargs(cls, spec.options, f"reward.verifiers[{i}].options")
        try:  # constructors check option values without loading anything heavy (models load in `prepare`)
            cls(**run_options(spec.name, spec.options, cfg))
        except (ValueError, TypeError, OSError) as e:
            raise ConfigError(f"bad value in 'reward.verifiers[{i}].options' ({spec.name}): {e}") from None
    if not cfg.reward.verifiers:
        raise ConfigError("'reward.verifiers' must name at least one verifier")
    names = [v.name for v in cfg.reward.verifiers]
    if len(set(names)) != len(names):
        raise ConfigError(f"'reward.verifiers' names a verifier twice ({', '.join(names)}); "
                          "each verifier's verdicts are kept under its name")
    for i, spec in enumerate(cfg.reward.verifiers):
        if spec.gate and (spec.gate not in names or spec.gate == spec.name):
            raise ConfigError(f"bad value {spec.gate!r} for 'reward.verifiers[{i}].gate'; "
                              f"allowed values: {', '.join(n for n in names if n != spec.name)}")
    check_reasoning_gym(cfg)  # rg: sources, their task options and the verifier that scores them
    if cfg.reward.accuracy_from and cfg.reward.accuracy_from not in names:
        raise ConfigError(f"bad value {cfg.reward.accuracy_from!r} for 'reward.accuracy_from'; "
                          f"allowed values: {', '.join(names)}")
    positive = {"run.steps": cfg.run.steps, "rollout.group_size": cfg.rollout.group_size,
                "rollout.prompts_per_step": cfg.rollout.prompts_per_step,
                "rollout.max_new_tokens": cfg.rollout.max_new_tokens,
                "rollout.batch_size": cfg.rollout.batch_size, "algo.epochs": cfg.algo.epochs,
                "rollout.max_gen_rounds": cfg.rollout.max_gen_rounds,
                "optim.micro_batch_size": cfg.optim.micro_batch_size,
                "reward.workers": cfg.reward.workers, "model.logprob_chunk": cfg.model.logprob_chunk}
    for key, value in positive.items():
        if value < 1:
            raise ConfigError(f"bad value {value!r} for '{key}'; must be at least 1")
    nonneg = {"run.save_every": cfg.run.save_every, "run.keep_checkpoints": cfg.run.keep_checkpoints,
              "eval.size": cfg.eval.size, "eval.every": cfg.eval.every,
              "optim.warmup_steps": cfg.optim.warmup_steps, "optim.grad_clip": cfg.optim.grad_clip,
              "rollout.temperature": cfg.rollout.temperature, "rollout.top_k": cfg.rollout.top_k,
              "algo.kl_coef": cfg.algo.kl_coef, "run.threads": cfg.run.threads,
              "algo.mini_batch_size": cfg.algo.mini_batch_size, "model.lora.rank": cfg.model.lora.rank,
              "algo.mini_batches": cfg.algo.mini_batches, "algo.entropy_coef": cfg.algo.entropy_coef,
              "algo.pg_coef": cfg.algo.pg_coef, "data.train_limit": cfg.data.train_limit,
              "reward.overlong_buffer": cfg.reward.overlong_buffer, "eval.max_new_tokens": cfg.eval.max_new_tokens,
              "critic.value_clip": cfg.critic.value_clip, "jepo.beta_sup": cfg.jepo.beta_sup,
              "optim.weight_decay": cfg.optim.weight_decay, "reward.overlong_penalty": cfg.reward.overlong_penalty}
    for key, value in nonneg.items():
        if value < 0:
            raise ConfigError(f"bad value {value!r} for '{key}'; must be at least 0")
    above_zero = {"optim.lr": cfg.optim.lr, "critic.lr": cfg.critic.lr, "reward.timeout_s": cfg.reward.timeout_s,
                  "model.lora.alpha": cfg.model.lora.alpha}
    for key, value in above_zero.items():
        if not value > 0:
            raise ConfigError(f"bad value {value!r} for '{key}'; must be greater than 0")
    if not all(0 <= b < 1 for b in cfg.optim.betas):
        raise ConfigError(f"bad value {cfg.optim.betas!r} for 'optim.betas'; each must be in [0, 1)")
    if not 0 <= cfg.model.lora.dropout < 1:
        raise ConfigError(f"bad value {cfg.model.lora.dropout!r} for 'model.lora.dropout'; must be in [0, 1)")
    if not 0 < cfg.rollout.top_p <= 1:
        raise ConfigError(f"bad value {cfg.rollout.top_p!r} for 'rollout.top_p'; must be in (0, 1]")
    if len(cfg.optim.betas) != 2:
        raise ConfigError(f"bad value {cfg.optim.betas!r} for 'optim.betas'; expected two numbers")
    batch = rollout_batch_size(cfg)
    what = "(prompts_per_step" + (" + self_verify.solutions" if cfg.self_verify.enabled else "") + ") × group_size"
    if cfg.algo.mini_batches and batch % cfg.algo.mini_batches:
        raise ConfigError(f"'algo.mini_batches' ({cfg.algo.mini_batches}) must divide the rollout batch "
                          f"({what} = {batch})")
    mini = mini_batch_size(cfg)
    if batch % mini:
        raise ConfigError(f"'algo.mini_batch_size' ({mini}) must divide the rollout batch "
                          f"({what} = {batch})")
    method.check_config(cfg)  # last: the method's and the sampler's own checks see valid numbers
    _check_sampler(cfg, method)
    _check_trackers(cfg.run.trackers)
    _check_backend(cfg)
    if not 0 < cfg.data.arithmetic.eval_fraction < 1:
        raise ConfigError("'data.arithmetic.eval_fraction' must be in (0, 1)")
    if cfg.data.arithmetic.min_operand > cfg.data.arithmetic.max_operand:
        raise ConfigError("'data.arithmetic.min_operand' must not exceed 'data.arithmetic.max_operand'")


def _check_prompt_format(data) -> None:
    """`data.chat_template_kwargs` only with a chat template, and none of the arguments rlvr sets."""
    reserved = sorted(set(data.chat_template_kwargs) & RESERVED_TEMPLATE_KWARGS)
    if reserved:
        raise ConfigError(f"'data.chat_template_kwargs' sets {', '.join(reserved)}, which rlvr sets itself when it "
                          "renders a prompt; remove them (any other template variable is allowed)")
    if data.prompt_format == "raw" and data.chat_template_kwargs:
        raise ConfigError("'data.chat_template_kwargs' is for the chat template, but 'data.prompt_format' is "
                          "'raw' (plain text): remove them, or use 'chat' or 'auto'")


def _check_sampler(cfg, method) -> None:
    """The sampler exists, gives the method what it needs, and checks its own section."""
    r = cfg.rollout
    if r.sampler and r.dynamic_sampling and r.sampler != "dynamic":
        raise ConfigError(f"'rollout.dynamic_sampling' asks for the dynamic sampler; 'rollout.sampler' is {r.sampler!r}")
    needs_greedy = method.needs_greedy_rewards(cfg)
    base = sampler_name(cfg, needs_greedy=needs_greedy)
    allowed = ", ".join(n for n in sorted(SAMPLERS) if not SAMPLERS[n].wraps) + ", or a plug-in 'package.module:Class'"
    try:
        chosen = sampler_class(base)
    except (ImportError, AttributeError, ValueError) as e:
        raise ConfigError(f"bad value {base!r} for 'rollout.sampler' ({e}); allowed values: {allowed}") from None
    if chosen.wraps:
        raise ConfigError(f"bad value {base!r} for 'rollout.sampler' (it wraps another); allowed values: {allowed}")
    if needs_greedy and base == "groups":
        raise ConfigError(f"'algo.advantage' {cfg.algo.advantage} needs a greedy completion per prompt; "
                          "'rollout.sampler: groups' gives none (use greedy_baseline, or leave it empty)")
    chosen.check_config(cfg)
    if cfg.self_verify.enabled:
        SAMPLERS["self_verify"].check_config(cfg)
        if not method.rewards_from_verifiers or needs_greedy:
            raise ConfigError(f"'self_verify.enabled' adds groups rewarded by a verifier; '{cfg.algo.advantage}' "
                              "needs what they lack (JEPO: a reference answer; ReMax: a greedy baseline)")


def _check_trackers(names: list[str]) -> None:
    """Each tracker exists and its package is installed (found, not imported), so a missing one
    stops the run here, before any model loads, with the command that installs it."""
    allowed = f"{', '.join(sorted(TRACKERS))}, or a plug-in 'package.module:Class'"
    if len(set(names)) != len(names):
        raise ConfigError(f"'run.trackers' names a tracker twice ({', '.join(names)})")
    for i, name in enumerate(names):
        try:
            cls = tracker_class(name)
        except ValueError:
            raise ConfigError(f"bad value {name!r} for 'run.trackers[{i}]'; allowed values: {allowed}") from None
        except (ImportError, AttributeError) as e:
            raise ConfigError(f"cannot import 'run.trackers[{i}]' {name!r}: {e}") from None
        missing = missing_modules(cls)
        if missing:
            raise ConfigError(f"'run.trackers' names {name}, but {' and '.join(missing)} "
                              f"{'is' if len(missing) == 1 else 'are'} not installed; install with: "
                              f"{getattr(cls, 'pip', 'pip install ' + ' '.join(missing))} "
                              f"(or remove {name} from 'run.trackers')")


def _check_backend(cfg) -> None:
    """`run.backend` exists, its settings go with it, and Ray is installed (found, not
    imported) when the run needs it — all before the model loads."""
    r, run = cfg.rollout, cfg.run
    if run.backend not in BACKENDS:
        raise ConfigError(f"bad value {run.backend!r} for 'run.backend'; allowed values: {', '.join(sorted(BACKENDS))}")
    if r.workers < 1:
        raise ConfigError(f"bad value {r.workers!r} for 'rollout.workers'; must be at least 1")
    if r.worker_gpus < 0:
        raise ConfigError(f"bad value {r.worker_gpus!r} for 'rollout.worker_gpus'; must be at least 0")
    if r.max_staleness < 0:
        raise ConfigError(f"bad value {r.max_staleness!r} for 'rollout.max_staleness'; must be at least 0 "
                          "(0: synchronous steps)")
    if run.ray_object_store_mb < RAY_MIN_OBJECT_STORE_MB:
        raise ConfigError(f"bad value {run.ray_object_store_mb!r} for 'run.ray_object_store_mb'; must be at least "
                          f"{RAY_MIN_OBJECT_STORE_MB} (Ray's smallest object store)")
    if run.backend != "ray":
        for key, value, default in (("rollout.workers", r.workers, 1), ("run.ray_address", run.ray_address, ""),
                                    ("rollout.worker_gpus", r.worker_gpus, 0.0)):
            if value != default:  # a setting that would do nothing is a mistake, not a no-op
                raise ConfigError(f"'{key}' is {value!r}, but 'run.backend' is {run.backend!r}: workers run only "
                                  "with 'run.backend: ray' (set it, or leave the key out)")
    elif importlib.util.find_spec("ray") is None:
        raise ConfigError("'run.backend' is 'ray', but ray is not installed; install with: "
                          "pip install 'rlvr[ray]' (or use 'run.backend: local')")
