"""reasoning-gym's own scorers as a verifier: a completion's final answer scored by the task's
`score_answer(answer, entry)`.

The reference of an `rg:` sample (`rlvr.data.reasoning_gym`) is a mapping with the task's
name, the task options the sample was generated with and the generated entry made
JSON-plain (`question`, `answer`, `metadata`); the verifier rebuilds that task once per
worker process and asks it for the score, so a task that checks a solution instead of
comparing it with a stored answer (`rush_hour`, `graph_color`, ...) is scored its own way.

The final answer: the content of the last `<answer>…</answer>` (reasoning-gym's convention,
what its system prompts ask for), or of the last `\\boxed{}` (this project's convention), as
`extract` says. Copies of the prompt's worked example are ignored (as in `math`), and a
completion that states several different final answers earns nothing (a hedge), so a policy
cannot collect the credit of whichever answer is right.

Per-task step metrics: `reward/<task>` (the mean score of the step's completions of that
task), from the task name each verdict carries.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any, Iterable

from rlvr.verifiers.base import Verdict
from rlvr.verifiers.extract import ECHO_WINDOW, boxed_contents, last_match, strip_echoes

PACKAGE = "reasoning-gym"
EXTRACT = ("either", "answer_tag", "boxed")
SHOWN_CHARS = 200  # of an answer quoted in `info`
MAX_ANSWER_CHARS = 10_000  # some tasks' answers are whole grids or programs; longer is no answer
_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


def load_reasoning_gym():
    """The `reasoning_gym` module, imported on first use (it is an optional dependency)."""
    try:
        import reasoning_gym
    except ImportError as e:
        raise ImportError(f"rg: data sources and the reasoning_gym verifier need the package {PACKAGE!r}: "
                          f"pip install 'rlvr[gym]' (or pip install {PACKAGE}) — {e}") from None
    return reasoning_gym


def tagged_answers(text: str, context: str = "") -> list[str]:
    """The contents of every `<answer>…</answer>` in order, stripped, except those copied from
    the prompt (the tag and the `ECHO_WINDOW` characters before it appear in `context`)."""
    out = []
    for m in _TAG.finditer(text):
        if context and text[max(0, m.start() - ECHO_WINDOW):m.end()] in context:
            continue
        out.append(m.group(1).strip())
    return out


def check_reference(reference: Any) -> tuple[str, dict, dict]:
    """(task, options, entry) of an rg sample's reference, or a ValueError saying what it is."""
    if not (isinstance(reference, dict) and isinstance(reference.get("task"), str)
            and isinstance(reference.get("options"), dict) and isinstance(reference.get("entry"), dict)):
        raise ValueError("the reasoning_gym verifier scores samples of an 'rg:' data source, whose reference "
                         f"holds the task, its options and its entry; got {reference!r:.80}")
    return reference["task"], reference["options"], reference["entry"]


class ReasoningGymVerifier:
    name = "reasoning_gym"
    reference_types = (dict,)  # {task, options, entry}: what the task's score_answer needs

    def __init__(self, *, extract: str = "either", answer_pattern: str = "", hacking_guard: bool = True) -> None:
        """`extract`: where the final answer is — `answer_tag` (the last `<answer>…</answer>`),
        `boxed` (the last `\\boxed{}`) or `either` (the last answer tag, else the last box).
        `answer_pattern`: a regex whose last match (group 1 if any) is the answer, instead of
        `extract`. `hacking_guard`: several different final answers (tags, or boxes) earn nothing."""
        if extract not in EXTRACT:
            raise ValueError(f"bad value {extract!r} for 'extract'; allowed values: {', '.join(EXTRACT)}")
        try:
            re.compile(answer_pattern)
        except re.error as e:
            raise ValueError(f"bad value {answer_pattern!r} for 'answer_pattern': {e}") from None
        self.extract, self.answer_pattern = extract, answer_pattern
        self.hacking_guard = hacking_guard
        self._tasks: dict[str, Any] = {}  # (task, options) → the dataset whose score_answer scores

    def prepare(self) -> None:
        """Import reasoning-gym (about a second) before the first timed call."""
        load_reasoning_gym()

    def final_answers(self, completion: str, context: str) -> list[str]:
        """Every final answer the completion states, in order (the last one counts)."""
        if self.answer_pattern:  # a pattern names one answer, its last match: no hedge to catch
            found = last_match(completion, self.answer_pattern)
            return [] if found is None else [found.strip()]
        if self.extract != "boxed":
            tags = tagged_answers(completion, context)
            if tags or self.extract == "answer_tag":
                return tags
        unechoed, _ = strip_echoes(completion, context)
        return [b.strip() for b in boxed_contents(unechoed) if b is not None]

    def _dataset(self, task: str, options: dict):
        key = task + json.dumps(options, sort_keys=True)
        if key not in self._tasks:
            # the scorer only needs the task's configuration; seed and size do not matter to it
            self._tasks[key] = load_reasoning_gym().create_dataset(task, seed=0, size=1, **options)
        return self._tasks[key]

    def __call__(self, completion: str, reference: Any, meta: dict | None = None) -> Verdict:
        task, options, entry = check_reference(reference)
        meta = meta or {}
        answers = self.final_answers(completion, str(meta.get("context") or meta.get("prompt") or ""))
        if not answers or not answers[-1]:
            return Verdict(0.0, {"task": task, "reason": "no_answer"})
        distinct = list(dict.fromkeys(a for a in answers if a))
        if self.hacking_guard and len(distinct) > 1:
            return Verdict(0.0, {"task": task, "reason": "several_answers", "answers": [a[:40] for a in distinct[:5]]})
        answer = answers[-1]
        if len(answer) > MAX_ANSWER_CHARS:
            return Verdict(0.0, {"task": task, "reason": "answer_too_long", "answer": answer[:80] + "…"})
        score = self._dataset(task, options).score_answer(answer=answer, entry=entry)
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not 0.0 <= score <= 1.0:
            raise ValueError(f"reasoning-gym task {task!r} scored {score!r}, not a number in [0, 1]")
        score = float(score)
        return Verdict(score, {"task": task, "answer": answer[:SHOWN_CHARS], "score": score, "correct": score >= 1.0})


def task_metrics(verdicts: Iterable[Verdict]) -> dict[str, float]:
    """`reward/<task>`: the mean score of the step's completions of each reasoning-gym task.
    Verdicts without a task (a timeout or a crash, counted in `reward/errors`) are left out."""
    by_task: dict[str, list[float]] = {}
    for v in verdicts:
        task = v.info.get("task")
        if isinstance(task, str) and math.isfinite(v.reward):
            by_task.setdefault(task, []).append(v.reward)
    return {f"reward/{task}": sum(r) / len(r) for task, r in sorted(by_task.items())}
