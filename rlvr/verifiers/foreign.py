"""Reward functions written for other frameworks, used unchanged: `trl:` and `verl:`.

    reward.verifiers: [{name: "trl:my_rewards.py:accuracy_reward"}]        # TRL's GRPOTrainer
    reward.verifiers: [{name: "verl:my_rewards.py:compute_score"}]         # verl's custom_reward_function

After the prefix comes where the function lives — a `.py` file (relative to the working
directory, or absolute; loaded by path in every worker process) or a dotted module
(`mypkg.rewards`, importable there too) — then `:` and the function's name (verl's default,
`compute_score`, may be left out). A name that cannot be resolved is a config error naming
the verifier; so is a function that cannot take the arguments its framework passes.

Each prefix is an adapter class in `FRAMEWORKS`; `foreign_class(name)` makes, once per
process, a subclass bound to the named function. What each adapter passes and accepts is
documented in docs/verifiers/frameworks.md.
"""
from __future__ import annotations

import asyncio
import functools
import hashlib
import importlib
import importlib.util
import inspect
import math
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar

from rlvr.verifiers.base import CALL_CONTEXT, NO_REWARD, Verdict

SHOWN_CHARS = 80  # of a bad return value, in an error message


@dataclass(frozen=True)
class TrainerStateView:
    """What rlvr knows of TRL's `trainer_state`: `global_step` (training steps done before
    these completions were generated; None outside training) and `max_steps` (`run.steps`)."""

    global_step: int | None
    max_steps: int | None


def _finite_number(value: Any) -> float | None:
    """`value` as a finite float when it is a number (bool, int, float, numpy or 0-d torch
    scalar), else None. Text such as "1.0" is not a number here."""
    if isinstance(value, (str, bytes)) or not (hasattr(type(value), "__float__") or hasattr(type(value), "__index__")):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return x if math.isfinite(x) else None


def _call(fn: Callable, **kwargs: Any) -> Any:
    """`fn(**kwargs)`, awaited when `fn` is an `async def` (both TRL and verl accept those)."""
    result = fn(**kwargs)
    if inspect.isawaitable(result):
        async def wait() -> Any:
            return await result
        result = asyncio.run(wait())
    return result


def _mean_by_key(verdicts: list[Verdict], field: str, prefix: str) -> dict[str, float]:
    """Means over `verdicts` of each number under `info[field]`, as `prefix + key`."""
    values: dict[str, list[float]] = defaultdict(list)
    for v in verdicts:
        found = v.info.get(field)
        if not isinstance(found, dict):  # absent, or too long to cross the pool (then a repr)
            continue
        for key, x in found.items():
            if (number := _finite_number(x)) is not None:
                values[key].append(number)
    return {f"{prefix}{key}": sum(xs) / len(xs) for key, xs in values.items()}


# -- finding the function ---------------------------------------------------------------------
def _is_path(where: str) -> bool:
    return where.endswith(".py") or "/" in where or "\\" in where


def _load_file(name: str, where: str) -> Any:
    path = Path(where).expanduser()
    path = (path if path.is_absolute() else Path.cwd() / path).resolve()
    if not path.is_file():
        raise ValueError(f"verifier {name!r}: file {where!r} not found (looked for {path}; a relative path is "
                         "taken from the working directory)")
    module_name = f"rlvr_reward_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ValueError(f"verifier {name!r}: {path} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # before running it, as `import` does: dataclasses need it
    try:
        spec.loader.exec_module(module)
    except Exception as e:  # noqa: BLE001 — whatever the user's file raises, say where it came from
        del sys.modules[module_name]
        raise ValueError(f"verifier {name!r}: running {path} failed: {type(e).__name__}: {e}") from e
    return module


def _load_module(name: str, where: str) -> Any:
    try:
        return importlib.import_module(where)
    except Exception as e:  # noqa: BLE001 — ImportError, or whatever the module raises on import
        raise ValueError(f"verifier {name!r}: cannot import module {where!r}: {type(e).__name__}: {e} (a file? "
                         f"give its path, e.g. {name.partition(':')[0]}:./{where.replace('.', '/')}.py:...)") from e


def load_function(name: str, default: str = "") -> Callable:
    """The function that `PREFIX:MODULE_OR_FILE[:FUNCTION]` names."""
    prefix, _, target = name.partition(":")
    where, sep, attr = target.rpartition(":")
    if not sep and default:
        where, attr = target, default
    if not where or not attr:
        example = f"{prefix}:my_rewards.py:{default or 'my_reward'}"
        raise ValueError(f"verifier {name!r} names no function; write {prefix}:MODULE_OR_FILE:FUNCTION, "
                         f"e.g. {example!r}")
    module = _load_file(name, where) if _is_path(where) else _load_module(name, where)
    fn = getattr(module, attr, None)
    if fn is None:
        defined = sorted(k for k, v in vars(module).items() if callable(v) and not k.startswith("_"))
        raise ValueError(f"verifier {name!r}: {where} defines no {attr!r} "
                         f"(its functions: {', '.join(defined) or 'none'})")
    if not callable(fn):
        raise ValueError(f"verifier {name!r}: {where}:{attr} is a {type(fn).__name__}, not a function")
    return fn


# -- TRL ----------------------------------------------------------------------------------------
class TRLReward:
    """A TRL reward function, `f(prompts, completions, completion_ids, **kwargs) -> list[float | None]`,
    called as TRL's GRPOTrainer calls it, once per prompt group (G completions)."""

    name: ClassVar[str] = "trl"
    function: ClassVar[Callable]
    needs_group: ClassVar[bool] = True
    may_abstain: ClassVar[bool] = True  # None: no reward from this function for this sample
    wants_call_context: ClassVar[bool] = True  # completion_ids and the training step in meta
    data_fields: ClassVar[bool] = True  # the run's prompt_field / answer_field are given as options
    default_function: ClassVar[str] = ""
    ALWAYS_PASSED: ClassVar[tuple[str, ...]] = ("prompts", "completions", "completion_ids", "trainer_state",
                                                "log_extra", "log_metric")
    NOT_COLUMNS: ClassVar[frozenset[str]] = frozenset({"prompt", "context", "prompt_messages", CALL_CONTEXT})
    """Meta keys that rlvr adds (see `verifier_meta`); every other meta key is a dataset column."""

    def __init__(self, *, prompt_field: str = "prompt", answer_field: str = "answer") -> None:
        """`prompt_field` / `answer_field`: the dataset's column names (`data.prompt_field`,
        `data.answer_field`, filled in from the run's config)."""
        self.prompt_field, self.answer_field = prompt_field, answer_field

    @classmethod
    def check_function(cls, name: str, fn: Callable) -> None:
        try:
            params = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):
            return  # a builtin or C callable: nothing to inspect, the call will tell
        if any(p.kind == p.VAR_KEYWORD for p in params):
            return
        accepted = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        missing = [k for k in cls.ALWAYS_PASSED if k not in accepted]
        if missing:
            raise ValueError(f"verifier {name!r}: TRL passes {', '.join(cls.ALWAYS_PASSED)} and every dataset column "
                             f"as keywords, and {fn.__name__} does not accept {', '.join(missing)}; give it **kwargs")

    def _columns(self, prompts: list, references: list, metas: list[dict]) -> dict[str, list]:
        names = dict.fromkeys(k for m in metas for k in m if k not in self.NOT_COLUMNS)
        columns = {k: [m.get(k) for m in metas] for k in names}
        # the answer (and a prompt column not called `prompt`) are dataset columns too, under their
        # own names; TRL passes the `prompt` column only as `prompts`
        if "." not in self.answer_field:
            columns[self.answer_field] = list(references)
        if self.prompt_field != "prompt" and "." not in self.prompt_field:
            columns[self.prompt_field] = prompts
        clash = [k for k in columns if k in self.ALWAYS_PASSED]
        if clash:
            raise ValueError(f"the dataset column(s) {', '.join(clash)} clash with what TRL passes under that name")
        return columns

    def batch(self, completions: list[str], references: list[Any], metas: list[dict]) -> list[Verdict]:
        n = len(completions)
        chats = [m.get("prompt_messages") for m in metas]
        prompts = [chat if chat is not None else m.get("prompt", "") for chat, m in zip(chats, metas)]
        texts = [[{"role": "assistant", "content": t}] if chat is not None else t
                 for t, chat in zip(completions, chats)]
        context = [m.get(CALL_CONTEXT) or {} for m in metas]
        extra: dict[str, list] = {}
        logged: dict[str, list[float]] = defaultdict(list)

        def log_extra(column: str, values: list) -> None:
            if len(values) != n:
                raise ValueError(f"log_extra({column!r}, ...) got {len(values)} values for {n} completions")
            extra[str(column)] = list(values)

        def log_metric(metric: str, value: float) -> None:
            x = _finite_number(value)
            if x is None:
                raise ValueError(f"log_metric({metric!r}, {value!r:.{SHOWN_CHARS}}) needs a finite number")
            logged[str(metric)].append(x)

        state = TrainerStateView(context[0].get("global_step") if context else None,
                                 context[0].get("max_steps") if context else None)
        out = _call(type(self).function, prompts=prompts, completions=texts,
                    completion_ids=[c.get("completion_ids") for c in context], trainer_state=state,
                    log_extra=log_extra, log_metric=log_metric, **self._columns(prompts, list(references), metas))
        if isinstance(out, (str, bytes, dict)) or not hasattr(out, "__len__"):
            raise ValueError(f"returned {type(out).__name__} {out!r:.{SHOWN_CHARS}}, not a list of {n} rewards")
        out = list(out)
        if len(out) != n:
            raise ValueError(f"returned {len(out)} rewards for {n} completions")
        means = {k: sum(xs) / len(xs) for k, xs in logged.items()}
        verdicts = []
        for i, value in enumerate(out):
            info: dict[str, Any] = {}
            if extra:
                info["extra"] = {k: vs[i] for k, vs in extra.items()}
            if means:
                info["logged"] = means
            x = _finite_number(value)
            if value is None:
                verdicts.append(Verdict(0.0, {NO_REWARD: True, **info}))
            elif x is None:
                verdicts.append(Verdict(0.0, {"error": f"reward {value!r:.{SHOWN_CHARS}} ({type(value).__name__}) is "
                                                       "not a finite number or None", **info}))
            else:
                verdicts.append(Verdict(x, info))
        return verdicts

    @classmethod
    def step_metrics(cls, verdicts: list[Verdict]) -> dict[str, float]:
        """`log_metric` values, averaged over the step's calls: `reward/<name>/<metric>`."""
        return _mean_by_key(verdicts, "logged", f"reward/{cls.name}/")


# -- verl ---------------------------------------------------------------------------------------
def _check_verl_call(name: str, fn: Callable, reward_kwargs: dict) -> None:
    """`fn` can take what verl passes: the four keywords, and `reward_kwargs` when set."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # a builtin or C callable: nothing to inspect, the call will tell
    try:
        sig.bind(data_source="", solution_str="", ground_truth=None, extra_info=None, **reward_kwargs)
    except TypeError as e:
        also = f", and {', '.join(reward_kwargs)} (reward_kwargs)" if reward_kwargs else ""
        raise ValueError(f"verifier {name!r}: verl calls it with the keywords data_source, solution_str, ground_truth, "
                         f"extra_info{also}, and {getattr(fn, '__name__', 'it')}{sig} cannot take them: {e}") from None


class VerlReward:
    """A verl `compute_score(data_source, solution_str, ground_truth, extra_info=None)`, called
    once per completion with keywords, as verl's reward manager calls it."""

    name: ClassVar[str] = "verl"
    function: ClassVar[Callable]
    default_function: ClassVar[str] = "compute_score"

    def __init__(self, *, data_source: str = "", reward_kwargs: dict | None = None) -> None:
        """`data_source`: passed for rows without a `data_source` column; `reward_kwargs`: extra
        keywords for every call (verl's `custom_reward_function.reward_kwargs`)."""
        if not isinstance(data_source, str):
            raise ValueError(f"'data_source' must be a string, got {data_source!r}")
        if reward_kwargs is not None and not isinstance(reward_kwargs, dict):
            raise ValueError(f"'reward_kwargs' must be a mapping of keyword arguments, got {reward_kwargs!r}")
        self.data_source, self.reward_kwargs = data_source, dict(reward_kwargs or {})
        if self.reward_kwargs:
            _check_verl_call(self.name, type(self).function, self.reward_kwargs)

    @classmethod
    def check_function(cls, name: str, fn: Callable) -> None:
        _check_verl_call(name, fn, {})

    def __call__(self, completion: str, reference: Any, meta: dict) -> Verdict:
        out = _call(type(self).function, data_source=meta.get("data_source", self.data_source),
                    solution_str=completion, ground_truth=reference, extra_info=meta.get("extra_info"),
                    **self.reward_kwargs)
        if isinstance(out, dict):
            if "score" not in out:
                raise ValueError(f"returned a dict without 'score' (keys: {', '.join(map(str, out))})")
            score = _finite_number(out["score"])
            if score is None:
                raise ValueError(f"returned score {out['score']!r:.{SHOWN_CHARS}}, not a finite number")
            numbers = {str(k): _finite_number(v) for k, v in out.items() if k != "score"}
            info: dict[str, Any] = {}
            if any(x is not None for x in numbers.values()):
                info["scores"] = {k: x for k, x in numbers.items() if x is not None}
            others = {str(k): v for k, v in out.items() if k != "score" and numbers[str(k)] is None}
            if others:
                info["extra"] = others
            return Verdict(score, info)
        x = _finite_number(out)
        if x is None:
            raise ValueError(f"returned {type(out).__name__} {out!r:.{SHOWN_CHARS}}; expected a number or a dict "
                             "with 'score'")
        return Verdict(x, {})

    @classmethod
    def step_metrics(cls, verdicts: list[Verdict]) -> dict[str, float]:
        """The numeric keys of a returned dict other than `score`: `reward/<name>/<key>`."""
        return _mean_by_key(verdicts, "scores", f"reward/{cls.name}/")


FRAMEWORKS: dict[str, type] = {"trl": TRLReward, "verl": VerlReward}
"""Name prefix → adapter class."""

DESCRIPTIONS = {
    "trl": "trl:MODULE_OR_FILE.py:FUNCTION — a TRL GRPOTrainer reward function, unchanged (prompts, "
           "completions, completion_ids, dataset columns; None = no reward), one call per prompt group",
    "verl": "verl:MODULE_OR_FILE.py[:compute_score] — a verl compute_score(data_source, solution_str, "
            "ground_truth, extra_info), unchanged; a float or a dict with 'score'",
}


def framework_hint(name: str, found: Any = None) -> str:
    """How to name a TRL or verl reward function that `name` (a verifier name without a prefix)
    points at — a `.py` file, or a function with those frameworks' parameters; "" otherwise
    (a plain verifier class, or a factory of one)."""
    if _is_path(name.partition(":")[0]):
        return f"a file is named with its framework's prefix: 'trl:{name}' or 'verl:{name}'"
    if found is None or isinstance(found, type) or not callable(found):
        return ""
    try:
        params = inspect.signature(found).parameters
    except (TypeError, ValueError):
        return ""
    if "solution_str" in params:
        return f"it takes verl's compute_score arguments; name it 'verl:{name}'"
    if "completions" in params:
        return f"it takes TRL's reward function arguments; name it 'trl:{name}'"
    return ""


def is_foreign(name: str) -> bool:
    return name.partition(":")[0] in FRAMEWORKS and ":" in name


@functools.lru_cache(maxsize=None)
def foreign_class(name: str) -> type:
    """The adapter class for `name` (`trl:…` or `verl:…`), bound to its function; built once per
    process, so a worker loads the user's file once."""
    base = FRAMEWORKS[name.partition(":")[0]]
    fn = load_function(name, default=base.default_function)
    base.check_function(name, fn)
    return type(base.__name__, (base,), {"name": name, "function": staticmethod(fn), "__module__": base.__module__,
                                         "__doc__": base.__doc__})
