"""reasoning-gym's procedural tasks as a data source: `data.train: rg:chain_sum`.

`rg:TASK` names one task of the `reasoning-gym` package (`rg:chain_sum`), `rg:A,B` several,
mixed in equal shares, and `rg:A:2,B` with integer weights (two A for every B). The samples
cycle through the tasks in a fixed pattern, so every step of `prompts_per_step` prompts holds
the same mix and each task's share is exact. Task options (`data.rg.chain_sum.max_terms`) go
to `reasoning_gym.create_dataset` unchanged; reasoning-gym checks them, at config time.

Item i of a split depends only on (seed, split, i), so a resumed run continues exactly. It is
drawn from reasoning-gym with seeds of the split's own parity (even for training, odd for the
held-out set), so the two never share a seed; and since a small task repeats questions under
different seeds, every distinct question also belongs to exactly one split, by a stable hash of
its text (`data.rg_eval_fraction` of them are held out): a held-out question never appears in
training, whatever the seeds. An item whose question belongs to the other split is redrawn.

The reference of a sample is what the `reasoning_gym` verifier needs to call the task's own
`score_answer`: the task, its options and the generated entry made JSON-plain (it crosses to
the verifier workers and is written to samples.jsonl). The conversion is checked on every
item: the task's stored answer must score the same on the plain entry as on the original.
"""
from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from rlvr.data.arithmetic import hash_split
from rlvr.types import Sample

PREFIX = "rg:"
EVAL_GROUP = "eval_group"  # meta key: the sample's task, by which evaluation reports accuracy (rlvr.eval.evaluate)
REDRAWS = 1000  # draws for one item before its split counts as empty
RESERVED_OPTIONS = ("seed", "size")  # set per item by this module
_AS_JSON = ("its entries do not survive the JSON data the verifier workers receive (measured with reasoning-gym "
            "0.1.25: its own answer scores 1.0 on the entry, 0.05 on the entry as JSON)")
UNSUPPORTED = {"composite": "list several tasks instead: 'rg:chain_sum,leg_counting' (weights: 'rg:chain_sum:2,…')",
               "arc_agi": _AS_JSON, "rearc": _AS_JSON}
REFERENCE_FREE = ("format", "random", "pairwise")  # built-in verifiers that do not read the reference


def is_rg_source(name: str) -> bool:
    return name.startswith(PREFIX)


def parse_source(source: str) -> list[tuple[str, int]]:
    """[(task, weight)] of `rg:A:2,B`; a ValueError says what is wrong."""
    out: list[tuple[str, int]] = []
    for part in source[len(PREFIX):].split(","):
        task, _, weight = part.strip().partition(":")
        if not task:
            raise ValueError(f"{source!r} names no task in one of its parts; write rg:TASK or rg:TASK1,TASK2:WEIGHT")
        try:
            w = int(weight) if weight else 1
        except ValueError:
            w = 0
        if w < 1:
            raise ValueError(f"bad weight {weight!r} of task {task!r} in {source!r}; a weight is an integer ≥ 1")
        if task in (t for t, _ in out):
            raise ValueError(f"{source!r} names task {task!r} twice; give it a weight instead (rg:{task}:2)")
        out.append((task, w))
    return out


def weighted_cycle(tasks: list[tuple[str, int]]) -> list[str]:
    """One period of the task pattern: each task as often as its weight, spread out (smooth
    weighted round robin), so that any stretch of items holds close to the weighted mix."""
    total = sum(w for _, w in tasks)
    current = {t: 0 for t, _ in tasks}
    out = []
    for _ in range(total):
        for t, w in tasks:
            current[t] += w
        pick = max(tasks, key=lambda tw: current[tw[0]])[0]  # first of the largest, so deterministic
        current[pick] -= total
        out.append(pick)
    return out


def item_seed(seed: int, split: str, task: str, i: int, draw: int) -> int:
    """A reasoning-gym seed for draw `draw` of item i: even for training, odd for the held-out
    set, so the two splits never share one (below 2**31, as every task accepts)."""
    digest = hashlib.blake2b(f"{seed}:{task}:{i}:{draw}".encode(), digest_size=8).digest()
    return 2 * (int.from_bytes(digest, "big") % 2**30) + (split == "eval")


def plain(value: Any, where: str) -> Any:
    """`value` as JSON data: tuples and sets become lists, NumPy scalars and arrays Python
    numbers and lists; anything else not JSON is a ValueError naming where it is."""
    def fallback(v: Any) -> Any:
        if isinstance(v, (set, frozenset, tuple)):
            return list(v)
        if hasattr(v, "tolist"):  # numpy scalars and arrays, without importing numpy
            return v.tolist()
        raise TypeError(f"{where} holds a {type(v).__name__}, which is not JSON data")
    try:
        return json.loads(json.dumps(value, default=fallback, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise ValueError(str(e)) from None


class ReasoningGymTask:
    """`task[i]`: the i-th sample of `split` ("train" or "eval") of the tasks in `source`."""

    def __init__(self, source: str, *, seed: int, split: str = "train",
                 options: dict[str, dict[str, Any]] | None = None, eval_fraction: float = 0.2) -> None:
        if split not in ("train", "eval"):
            raise ValueError(f"split must be 'train' or 'eval', got {split!r}")
        from rlvr.verifiers.reasoning_gym import load_reasoning_gym  # here: importing rlvr.data stays light

        self.rg = load_reasoning_gym()
        self.source, self.seed, self.split, self.eval_fraction = source, seed, split, eval_fraction
        self.tasks = parse_source(source)
        self.cycle = weighted_cycle(self.tasks)
        self.options = {t: dict((options or {}).get(t, {})) for t, _ in self.tasks}

    def entry(self, task: str, i: int) -> tuple[Any, dict]:
        """(the dataset, its entry) of item i of `task` in this split."""
        for draw in range(REDRAWS):
            ds = self.rg.create_dataset(task, seed=item_seed(self.seed, self.split, task, i, draw), size=1,
                                        **self.options[task])
            entry = ds[0]
            if hash_split(f"rg:{task}:{entry['question']}", self.eval_fraction) == self.split:
                return ds, entry
        raise ValueError(f"no question of reasoning-gym task {task!r} fell in the {self.split} split in {REDRAWS} "
                         "draws: the task has (nearly) no distinct questions; widen its options in 'data.rg' "
                         "or change 'data.rg_eval_fraction'")

    def __getitem__(self, i: int) -> Sample:
        task = self.cycle[i % len(self.cycle)]
        ds, entry = self.entry(task, i)
        kept = plain(entry, f"reasoning-gym task {task!r}'s entry")
        stored, as_kept = ds.score_answer(entry["answer"], entry), ds.score_answer(kept["answer"], kept)
        if not (stored == as_kept or (math.isnan(stored) and math.isnan(as_kept))):
            raise ValueError(f"reasoning-gym task {task!r} scores its own answer {stored!r} on its entry but "
                             f"{as_kept!r} on the entry as JSON data; rlvr cannot carry this task's entries "
                             "to the verifier workers")
        reference = {"task": task, "options": self.options[task], "entry": kept}
        return Sample(prompt=kept["question"], answer=reference,
                      meta={"task": "reasoning_gym", EVAL_GROUP: task, "index": i})

    def take(self, n: int, start: int = 0) -> list[Sample]:
        return [self[i] for i in range(start, start + n)]


def check_config(cfg) -> None:
    """The rg: sources of `cfg.data`, their task options and the reward that scores them;
    every error names the key and what is allowed (raised as `ConfigError`)."""
    from rlvr.configtools import ConfigError
    from rlvr.verifiers.reasoning_gym import load_reasoning_gym

    d = cfg.data
    sources = [(key, value) for key, value in (("data.train", d.train), ("data.eval", d.eval)) if is_rg_source(value)]
    names = [v.name for v in cfg.reward.verifiers]
    if not sources:
        if d.rg:
            raise ConfigError(f"'data.rg' sets options of reasoning-gym tasks ({', '.join(d.rg)}), but neither "
                              "'data.train' nor 'data.eval' is an rg: source")
        if "reasoning_gym" in names:
            raise ConfigError("the reasoning_gym verifier scores samples of an rg: source; 'data.train' is "
                              f"{d.train!r} (set data.train: rg:TASK, or choose another verifier)")
        return
    if not 0 < d.rg_eval_fraction < 1:
        raise ConfigError(f"bad value {d.rg_eval_fraction!r} for 'data.rg_eval_fraction'; must be in (0, 1)")
    try:
        rg = load_reasoning_gym()
    except ImportError as e:
        raise ConfigError(f"'{sources[0][0]}' is {sources[0][1]!r}: {e}") from None
    known = sorted(rg.factory.DATASETS)
    used: set[str] = set()
    for key, value in sources:
        try:
            tasks = parse_source(value)
        except ValueError as e:
            raise ConfigError(f"bad value for '{key}': {e}") from None
        for task, _ in tasks:
            if task in UNSUPPORTED:
                raise ConfigError(f"reasoning-gym task {task!r} in '{key}' is not supported: {UNSUPPORTED[task]}")
            if task not in known:
                raise ConfigError(f"unknown reasoning-gym task {task!r} in '{key}'; allowed values: "
                                  f"{', '.join(t for t in known if t not in UNSUPPORTED)}")
        used.update(t for t, _ in tasks)
    for task, options in d.rg.items():
        _check_options(rg, task, options, used)
    for key, value in sources:  # one item of each task now: a split that is (nearly) empty, an entry JSON breaks
        seed, split = (cfg.run.seed, "train") if key == "data.train" else (cfg.eval.seed, "eval")
        try:
            task = ReasoningGymTask(value, seed=seed, split=split, options=d.rg, eval_fraction=d.rg_eval_fraction)
            for name, _ in task.tasks:
                task[task.cycle.index(name)]
        except ValueError as e:
            raise ConfigError(f"bad value {value!r} for '{key}': {e}") from None
    for other in (d.train, d.eval):
        if other and not is_rg_source(other):
            raise ConfigError(f"'data.train' and 'data.eval' mix an rg: source with {other!r}; the reasoning_gym "
                              "verifier scores only rg: samples (set both to rg: sources, or data.eval: '' for none)")
    if "reasoning_gym" not in names:
        raise ConfigError(f"'{sources[0][0]}' is an rg: source, scored by the task's own score_answer: add the "
                          "verifier (reward.verifiers: [{name: reasoning_gym}], or --reward=reasoning_gym)")
    readers = [n for n in names if n != "reasoning_gym" and n not in REFERENCE_FREE and ":" not in n]
    if readers:
        raise ConfigError(f"'reward.verifiers' has {', '.join(readers)}, which compare(s) a completion with a "
                          "reference answer; an rg: sample's reference is a reasoning-gym entry, scored only by "
                          f"reasoning_gym (allowed beside it: {', '.join(REFERENCE_FREE)}, or a plug-in)")
    from rlvr.verifiers import REGISTRY
    clash = sorted(used & (set(REGISTRY) | {"mean", "std", "errors", "timeouts", "failed_frac"}))
    if clash:  # reward/<task> would overwrite another metric
        raise ConfigError(f"reasoning-gym task(s) {', '.join(clash)} share a name with a 'reward/' metric")


def _check_options(rg, task: str, options: Any, used: set[str]) -> None:
    from rlvr.configtools import ConfigError

    key = f"data.rg.{task}"
    if task not in used:
        raise ConfigError(f"'{key}' sets options of a task that neither 'data.train' nor 'data.eval' uses "
                          f"(they use: {', '.join(sorted(used))})")
    if not isinstance(options, dict):
        raise ConfigError(f"bad value {options!r} for '{key}'; expected a mapping of the task's options")
    import dataclasses

    config_cls = rg.factory.DATASETS[task][1]
    fields = {f.name: f.default for f in dataclasses.fields(config_cls) if f.name not in RESERVED_OPTIONS}
    allowed = ", ".join(f"{n} (default {v!r})" if v is not dataclasses.MISSING else n for n, v in fields.items())
    for name in options:
        if name not in fields:
            what = "is set per item by rlvr" if name in RESERVED_OPTIONS else "is not an option of this task"
            raise ConfigError(f"'{key}.{name}' {what}; allowed keys here: {allowed}")
    try:
        rg.create_dataset(task, seed=0, size=1, **options)
    except Exception as e:  # a task's own validation may raise anything; its message is what helps
        raise ConfigError(f"bad value in '{key}' ({options}): reasoning-gym says: {e or type(e).__name__}") from None
