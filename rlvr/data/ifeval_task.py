"""Procedural instruction-following prompts: a writing task plus one to several checkable
instructions, with the IFEval reference that the `ifeval` verifier checks.

Item i depends only on (seed, i); the split of a prompt is a stable hash of its text, as in
`arithmetic.py`, so held-out prompts never appear in training. Instructions are drawn
without conflicts (`rlvr.verifiers.ifeval.registry.CONFLICTS`, after IFBench's conflict
dictionary, ALGORITHMS.md §14), and their arguments are redrawn when they would fight each
other (a forbidden word that another instruction requires, a letter to avoid that a
required phrase contains).
"""
from __future__ import annotations

import hashlib
import random
from typing import Any

from rlvr.types import Sample
from rlvr.verifiers.ifeval.registry import CONSTRAINTS, compatible
from rlvr.verifiers.ifeval.constraints_words import phrase_re

# Base writing tasks (no commas or digits, so that no instruction is contradicted by
# repeating the request).
TOPICS = (
    "Write a short story about a lighthouse keeper who finds a message in a bottle.",
    "Write a letter to a friend describing a trip to the mountains.",
    "Explain to a young child why the sky is blue.",
    "Write a product description for a reusable water bottle.",
    "Describe a busy morning at a city market.",
    "Write a blog post about learning to cook at home.",
    "Give advice to a student who is starting a first job.",
    "Write a poem about the sea at night.",
    "Summarize the benefits of regular exercise.",
    "Write a review of an imaginary restaurant that serves only soup.",
    "Describe your ideal weekend.",
    "Write a speech for a school graduation.",
    "Write an email asking a manager for a day off.",
    "Describe the life cycle of a butterfly.",
    "Write a travel guide entry for a small island.",
    "Explain how to plant a vegetable garden.",
    "Write a news report about a town festival.",
    "Write a dialogue between a robot and a gardener.",
    "Describe the history of the bicycle.",
    "Write a motivational message for someone training for a marathon.",
    "Explain the water cycle.",
    "Write a cover letter for a job at a bookstore.",
    "Describe a rainy afternoon in a small village.",
    "Write a short fable with a moral about patience.",
    "Explain why sleep is important for health.",
    "Write an advertisement for a new board game.",
    "Describe how to make a good cup of tea.",
    "Write a note thanking a teacher.",
    "Explain what happens inside a computer when you press a key.",
    "Write a diary entry of an astronaut on the moon.",
    "Give tips for saving money on groceries.",
    "Describe an old library at closing time.",
)

# Arguments that restrict what the response may contain; a string another instruction
# requires (a keyword, an end phrase, the request to repeat) must not break them.
_LIMITS = {
    "keywords:forbidden_words": lambda kw: [("word", w) for w in kw["forbidden_words"]],
    "keywords:frequency": lambda kw: [("word", kw["keyword"])] if kw["relation"] == "less than" else [],
    "keywords:letter_frequency":
        lambda kw: [("letter", kw["letter"])] if kw["let_relation"] == "less than" else [],
    "count:distinct_words_with_letter": lambda kw: [("letter", kw["letter"])],
}


def split_of(prompt: str, eval_fraction: float) -> str:
    digest = hashlib.blake2b(prompt.encode(), digest_size=8).digest()
    return "eval" if int.from_bytes(digest, "big") / 2**64 < eval_fraction else "train"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, str)]
    return []


def consistent(ids: list[str], kwargs: list[dict]) -> bool:
    """No instruction's required text (keywords, phrases) breaks another's limit (forbidden
    words, a word to use rarely, a letter to avoid); no letter is constrained twice."""
    letters = [kw["letter"] for kw in kwargs if "letter" in kw]
    if len(letters) != len(set(letters)):
        return False
    for i, cid in enumerate(ids):
        if cid not in _LIMITS:
            continue
        required = [s for j, kw in enumerate(kwargs) if j != i for v in kw.values() for s in _strings(v)]
        for kind, item in _LIMITS[cid](kwargs[i]):
            if kind == "letter" and any(item in s.lower() for s in required):
                return False
            if kind == "word" and any(phrase_re(item).search(s) for s in required):
                return False
    return True


class IFEvalTask:
    """`task[i]` is the i-th instruction-following prompt of `split` ("train" or "eval")."""

    def __init__(self, *, seed: int, split: str = "train", min_constraints: int = 1,
                 max_constraints: int = 3, eval_fraction: float = 0.1,
                 constraint_ids: tuple[str, ...] | list[str] | None = None) -> None:
        """`constraint_ids`: the instructions to draw from (default: all of them)."""
        if split not in ("train", "eval"):
            raise ValueError(f"split must be 'train' or 'eval', got {split!r}")
        if not 1 <= min_constraints <= max_constraints:
            raise ValueError(f"need 1 <= min_constraints <= max_constraints, got "
                             f"{min_constraints} and {max_constraints}")
        pool = list(constraint_ids) if constraint_ids is not None else sorted(CONSTRAINTS)
        unknown = [c for c in pool if c not in CONSTRAINTS]
        if unknown or not pool:
            raise ValueError(f"unknown instruction ids {unknown}; known: {', '.join(sorted(CONSTRAINTS))}")
        self.seed, self.split, self.eval_fraction = seed, split, eval_fraction
        self.min_constraints, self.max_constraints = min_constraints, max_constraints
        self.pool = sorted(set(pool))

    def _draw(self, rng: random.Random) -> tuple[str, list[str], list[dict]] | None:
        topic = rng.choice(TOPICS)
        k = rng.randint(self.min_constraints, self.max_constraints)
        ids: list[str] = []
        for cid in rng.sample(self.pool, len(self.pool)):
            if len(ids) == k:
                break
            if all(compatible(cid, other) for other in ids):
                ids.append(cid)
        if len(ids) < self.min_constraints:
            return None
        kwargs = []
        for cid in ids:
            kw = CONSTRAINTS[cid].sample_kwargs(rng)
            if cid == "combination:repeat_prompt":
                kw = {"prompt_to_repeat": topic}
            kwargs.append(kw)
        if not consistent(ids, kwargs):
            return None
        return topic, ids, kwargs

    def __getitem__(self, i: int) -> Sample:
        rng = random.Random(f"ifeval:{self.seed}:{i}")
        for _ in range(10_000):  # rejection: conflicts, then the split (~10 tries for eval)
            drawn = self._draw(rng)
            if drawn is None:
                continue
            topic, ids, kwargs = drawn
            lines = [topic] + [CONSTRAINTS[c].describe(**CONSTRAINTS[c].bind(kw))
                               for c, kw in zip(ids, kwargs)]
            prompt = "\n".join(lines)
            if split_of(prompt, self.eval_fraction) == self.split:
                return Sample(prompt=prompt,
                              answer={"instruction_id_list": ids, "kwargs": kwargs},
                              meta={"task": "ifeval", "instruction_ids": list(ids),
                                    "topic": TOPICS.index(topic), "index": i})
        raise ValueError(f"could not draw a {self.split} prompt; widen constraint_ids, lower "
                         "min_constraints or change eval_fraction")

    def take(self, n: int, start: int = 0) -> list[Sample]:
        return [self[i] for i in range(start, start + n)]
