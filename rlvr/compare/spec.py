"""The comparison spec: what is compared, on what, for how long, over which seeds.

```yaml
task: {config: configs/tiny.yaml, overrides: {eval: {size: 16}}}   # the shared base
methods:
  - {name: grpo, algo: grpo}
  - {name: dapo, algo: dapo, overrides: {optim.lr: 1e-3}}
budget: {steps: 20}          # or {tokens: 50000}: generated tokens
seeds: [0, 1, 2]
eval: {k: [1, 4], n: 8}      # optional: pass@k of each final checkpoint
```

The whole spec is checked, and every run's config built with the project's config loader,
before anything runs, so a typo in the fifth method does not surface after four trainings.
Every error names the spec file and, where it is one method's, the method.

What makes the comparison fair is decided here: a run's config is the task's base with only
the method's layers and the seed on top, and a method may not touch what the methods share
(`SHARED`). For one seed every method then draws the same training prompts in the same order
(the prompt stream is seeded by `run.seed` alone) and is evaluated on the same held-out
problems (seeded by `eval.seed`, which the seeds leave alone: one evaluation set for the whole
comparison, so the seed-to-seed spread is the training's, not the evaluation set's).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlvr.config import Config
from rlvr.configtools import (ConfigError, algo_preset_path, algo_presets, build, config_file, deep_merge, read_yaml,
                              to_plain)

MIN_SEEDS = 3
"""Fewer seeds give an interval too wide to tell methods apart (t_{0.975,1} = 12.7); the tests'
2-seed comparison asks for it with `--allow-few-seeds`."""

SHARED = ("data", "eval", "run.seed", "run.steps", "run.out")
"""Config keys the methods share: the training prompts, the evaluation set, the seed and the
budget. A method that set one would no longer differ from the others in its method alone."""

KEYS = {"task": {"config", "overrides"}, "methods": {"name", "algo", "overrides"}, "budget": {"steps", "tokens"},
        "eval": {"k", "n", "temperature"}}
TOP = {"task", "methods", "budget", "seeds", "eval"}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # a method's name is a folder name under runs/


@dataclass(frozen=True)
class Method:
    name: str
    algo: str | None
    overrides: dict[str, Any]
    configs: dict[int, Config] = field(repr=False)
    """The run config of each seed (run.out not yet set: run.py places the runs)."""


@dataclass(frozen=True)
class Spec:
    path: str
    raw: dict
    """The spec as loaded, for summary.json."""
    methods: list[Method]
    budget: dict[str, int]
    """{"steps": N} or {"tokens": T}."""
    seeds: list[int]
    eval_k: list[int]
    eval_n: int
    eval_temperature: float

    @property
    def budget_kind(self) -> str:
        return next(iter(self.budget))


def expand_dotted(over: dict, where: str) -> dict:
    """`{"optim.lr": 1e-5, "algo": {"kl_coef": 0}}` → nested mappings, as the config loader takes them."""
    out: dict = {}
    for key, value in over.items():
        node, parts = out, str(key).split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{where}: the override '{key}' conflicts with another one")
        leaf = parts[-1]
        value = expand_dotted(value, where) if isinstance(value, dict) else value
        node[leaf] = deep_merge(node[leaf], value) if isinstance(node.get(leaf), dict) and isinstance(value, dict) \
            else value
    return out


def _touches(over: dict, dotted: str) -> bool:
    node = over
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _check_keys(data: Any, allowed: set, where: str) -> dict:
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a mapping, got {data!r}")
    unknown = sorted(set(map(str, data)) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                          f"allowed: {', '.join(sorted(allowed))}")
    return data


def _positive_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where} must be a positive integer, got {value!r}")
    return value


def load_spec(path: str, *, min_seeds: int = MIN_SEEDS) -> Spec:
    """Read and check the spec at `path` and build every run's config; a `ConfigError` names
    the file (and the method) of the first problem found."""
    raw = read_yaml(path)
    _check_keys(raw, TOP, path)
    for key in ("task", "methods", "budget", "seeds"):
        if key not in raw:
            raise ConfigError(f"{path}: missing '{key}' (a spec has {', '.join(sorted(TOP - {'eval'}))}; eval optional)")
    task = _check_keys(raw["task"], KEYS["task"], f"{path}: task")
    task_over = task.get("overrides") or {}
    if not isinstance(task_over, dict):
        raise ConfigError(f"{path}: task.overrides must be a mapping, got {task_over!r}")
    task_over = expand_dotted(task_over, f"{path}: task.overrides")
    for key in ("run.seed", "run.steps", "run.out"):
        if _touches(task_over, key):
            raise ConfigError(f"{path}: task.overrides sets '{key}', which the comparison sets itself "
                              f"({'from seeds' if key == 'run.seed' else 'from budget' if key == 'run.steps' else 'from --out'})")
    try:  # the shared base alone first, so that its errors are not blamed on a method
        base = to_plain(_build(task.get("config"), task_over, Path(path).resolve().parent))
    except ConfigError as e:
        raise ConfigError(f"{path}: task: {e}") from None
    if not base["eval"]["after"] or base["eval"]["size"] < 1:  # the table's first column
        raise ConfigError(f"{path}: task: a comparison needs the held-out evaluation after training "
                          "(eval.after: true, eval.size ≥ 1)")

    budget = _check_keys(raw["budget"], KEYS["budget"], f"{path}: budget")
    if len(budget) != 1:
        raise ConfigError(f"{path}: budget takes exactly one of steps or tokens, got {sorted(budget) or 'none'}")
    (kind, amount), = budget.items()
    budget = {kind: _positive_int(amount, f"{path}: budget.{kind}")}

    seeds = raw["seeds"]
    if not isinstance(seeds, list) or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0
                                              for s in seeds):
        raise ConfigError(f"{path}: seeds must be a list of integers ≥ 0, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"{path}: seeds repeat: {seeds}")
    if len(seeds) < min_seeds:
        hint = " (--allow-few-seeds accepts 2, for quick checks)" if len(seeds) >= 2 else ""
        raise ConfigError(f"{path}: {len(seeds)} seed{'s' if len(seeds) != 1 else ''} given, at least {min_seeds} "
                          f"needed for an interval over seeds{hint}")

    ev = _check_keys(raw.get("eval") or {}, KEYS["eval"], f"{path}: eval")
    ks = ev.get("k", [])
    if not isinstance(ks, list) or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in ks):
        raise ConfigError(f"{path}: eval.k must be a list of positive integers, got {ks!r}")
    n = _positive_int(ev["n"], f"{path}: eval.n") if "n" in ev else max(ks, default=0)
    if ks and n < max(ks):
        raise ConfigError(f"{path}: eval.n ({n}) must be at least the largest k ({max(ks)})")
    temperature = ev.get("temperature", 1.0)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or temperature < 0:
        raise ConfigError(f"{path}: eval.temperature must be a number ≥ 0, got {temperature!r}")

    methods_raw = raw["methods"]
    if not isinstance(methods_raw, list) or len(methods_raw) < 2:
        raise ConfigError(f"{path}: methods must list at least 2 methods to compare")
    methods, names = [], set()
    for i, m in enumerate(methods_raw):
        label = m.get("name") if isinstance(m, dict) else None
        where = f"{path}: method '{label}' (methods[{i}])" if label else f"{path}: methods[{i}]"
        methods.append(_method(m, where, base, budget, seeds, names))
    return Spec(path=path, raw=raw, methods=methods, budget=budget, seeds=list(seeds), eval_k=list(ks),
                eval_n=n if ks else 0, eval_temperature=float(temperature))


def _method(m: Any, where: str, base: dict, budget: dict, seeds: list[int], names: set) -> Method:
    m = _check_keys(m, KEYS["methods"], where)
    name = m.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        raise ConfigError(f"{where}: name must be a folder name (letters, digits, _ . -), got {name!r}")
    if name in names:
        raise ConfigError(f"{where}: the name '{name}' is used twice")
    names.add(name)
    algo = m.get("algo")
    if algo is not None and (not isinstance(algo, str) or algo not in algo_presets()):
        raise ConfigError(f"{where}: unknown algo preset {algo!r}; `rlvr algos` lists them: "
                          f"{', '.join(algo_presets())}")
    over = m.get("overrides") or {}
    if not isinstance(over, dict):
        raise ConfigError(f"{where}: overrides must be a mapping, got {over!r}")
    over = expand_dotted(over, where)
    for key in SHARED:
        if _touches(over, key):
            raise ConfigError(f"{where}: overrides set '{key}', which every method shares (the prompts, the "
                              "evaluation set, the seed and the budget); set it in task.overrides or budget")
    configs = {}
    for seed in seeds:
        data = deep_merge(base, read_yaml(str(algo_preset_path(algo)))) if algo else dict(base)
        steps = {"steps": budget["steps"]} if "steps" in budget else {}  # a tokens budget: set per segment (run.py)
        data = deep_merge(deep_merge(data, over), {"run": {"seed": seed, **steps}})
        try:
            configs[seed] = build(Config, data)
        except ConfigError as e:
            raise ConfigError(f"{where}: {e}") from None
    return Method(name=name, algo=algo, overrides=m.get("overrides") or {}, configs=configs)


def _build(config: Any, over: dict, spec_folder: Path) -> Config:
    from rlvr.config import load_config

    if config is not None and not isinstance(config, str):
        raise ConfigError(f"config must be a file path or a shipped config name, got {config!r}")
    return load_config(config_path(config, spec_folder) if config else None, over)


def config_path(config: str, spec_folder: Path) -> str:
    """task.config as `rlvr train` reads CONFIG (from the working directory, else a shipped
    config), and else beside the spec file, so a spec and its config can travel together."""
    beside = spec_folder / config
    if not Path(config).exists() and not Path(config).is_absolute() and beside.is_file():
        return str(beside)
    return config_file(config)
