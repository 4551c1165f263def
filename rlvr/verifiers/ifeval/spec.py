"""What a constraint is: a checker, an instruction writer, an argument sampler, and the
declared arguments that turn a reference's `kwargs` into checked, normalised values.

Argument conventions follow IFEval (google-research `instruction_following_eval`, Zhou et
al. 2023, arXiv 2311.07911): counts are integers, `relation` is "less than" (count < N) or
"at least" (count >= N), and a `None` value means the argument is absent — the Hugging Face
copy of IFEval stores every argument name of every constraint, mostly as `None`.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable

RELATIONS = ("less than", "at least")


def n_of(n: float, noun: str, plural: str | None = None) -> str:
    """`n_of(1, "word")` is "1 word", `n_of(3, "word")` is "3 words"."""
    return f"{n:g} {noun if n == 1 else plural or noun + 's'}"


def compare(count: float, relation: str, n: float) -> bool:
    """IFEval's comparison: "less than" is `count < n`, "at least" is `count >= n`."""
    return count < n if relation == "less than" else count >= n


@dataclass(frozen=True)
class Param:
    """One keyword argument of a constraint.

    `kind`: "int" (a whole number; 3.0 is accepted as 3), "number" (int or float), "str"
    (non-empty), "letter" (one letter, lowercased), "words" (a non-empty list of non-empty
    strings; a lone string becomes a one-element list), "relation" (one of `RELATIONS`).
    """

    name: str
    kind: str
    required: bool = True
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple | None = None


def _normalise(cid: str, p: Param, value: Any) -> Any:
    def bad(why: str) -> ValueError:
        return ValueError(f"constraint {cid!r}: argument {p.name!r} {why} (got {value!r:.80})")

    if p.kind in ("int", "number"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("must be a number")
        if p.kind == "int":
            if isinstance(value, float) and not value.is_integer():
                raise bad("must be a whole number")
            value = int(value)
        if value != value or value in (float("inf"), float("-inf")):
            raise bad("must be finite")
        if p.minimum is not None and value < p.minimum:
            raise bad(f"must be at least {p.minimum:g}")
        if p.maximum is not None and value > p.maximum:
            raise bad(f"must be at most {p.maximum:g}")
    elif p.kind == "relation":
        if value not in RELATIONS:
            raise bad(f"must be one of {list(RELATIONS)}")
    elif p.kind == "str":
        if not isinstance(value, str) or not value.strip():
            raise bad("must be a non-empty string")
        value = value.strip()
    elif p.kind == "letter":
        if not isinstance(value, str) or len(value.strip()) != 1 or not value.strip().isalpha():
            raise bad("must be a single letter")
        value = value.strip().lower()
    elif p.kind == "words":
        if isinstance(value, str):
            value = [value]
        if (not isinstance(value, (list, tuple)) or not value
                or not all(isinstance(w, str) and w.strip() for w in value)):
            raise bad("must be a non-empty list of non-empty strings")
        value = [w.strip() for w in value]
    else:  # pragma: no cover - a registry bug, not a user error
        raise AssertionError(f"unknown parameter kind {p.kind!r}")
    if p.choices is not None and value not in p.choices:
        raise bad(f"must be one of {list(p.choices)}")
    return value


@dataclass(frozen=True)
class Constraint:
    """A checkable instruction: `check(response, **kwargs) -> bool`, the English instruction
    `describe(**kwargs) -> str`, and `sample_kwargs(rng) -> dict` drawing valid arguments.
    `check` and `describe` receive the output of `bind` (normalised, defaults filled in)."""

    id: str
    check: Callable[..., bool]
    describe: Callable[..., str]
    sample_kwargs: Callable[[random.Random], dict] = field(default=lambda rng: {})
    params: tuple[Param, ...] = ()
    validate: Callable[..., str | None] | None = None
    """Optional cross-argument check on the bound kwargs; returns a message when invalid."""

    def bind(self, kwargs: dict | None) -> dict:
        """Check and normalise a reference's kwargs for this constraint. `None` values are
        absent arguments. Raises ValueError naming the constraint and the bad argument."""
        if kwargs is None:
            kwargs = {}
        if not isinstance(kwargs, dict):
            raise ValueError(f"constraint {self.id!r}: kwargs must be a dict, got {type(kwargs).__name__}")
        given = {k: v for k, v in kwargs.items() if v is not None}
        known = {p.name for p in self.params}
        unknown = sorted(set(given) - known)
        if unknown:
            raise ValueError(f"constraint {self.id!r}: unknown argument {unknown[0]!r}; "
                             f"it takes {sorted(known) or 'no arguments'}")
        out = {}
        for p in self.params:
            if p.name in given:
                out[p.name] = _normalise(self.id, p, given[p.name])
            elif p.required:
                raise ValueError(f"constraint {self.id!r}: missing argument {p.name!r}")
            else:
                out[p.name] = p.default
        if self.validate is not None:
            problem = self.validate(**out)
            if problem:
                raise ValueError(f"constraint {self.id!r}: {problem}")
        return out
