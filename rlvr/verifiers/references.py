"""Is every reference answer something the configured verifiers can compare? Checked on the
loaded rows before the model loads, so that a dict handed to `math` (verl's `reward_model`
named as the answer field) stops the run with the file, row, field and a fix, instead of
training at reward 0 (issue 11).

Each verifier class declares `reference_types`, the Python types of the reference it compares
(`ANY_REFERENCE` for one that takes anything or needs none); a plug-in that declares nothing
is taken to accept anything. `bool` counts as its own type: `True` is not a number to `math`.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from rlvr.data.files import DataError
from rlvr.types import Sample
from rlvr.verifiers import verifier_class
from rlvr.verifiers.base import ANY_REFERENCE


def reference_types(cls: Any) -> tuple[type, ...]:
    """What a verifier class declares (anything, for a plug-in that declares nothing)."""
    declared = getattr(cls, "reference_types", None)
    return tuple(declared) if declared else ANY_REFERENCE


def accepts(types: tuple[type, ...], reference: Any) -> bool:
    if object in types:
        return True
    if isinstance(reference, bool):
        return bool in types
    return isinstance(reference, types)


def _type_names(types: Iterable[type]) -> str:
    names = [t.__name__ for t in types]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _hint(reference: Any, answer_field: str, types: tuple[type, ...]) -> str:
    if isinstance(reference, dict):
        keys = [k for k in reference if accepts(types, reference[k])]
        best = "ground_truth" if "ground_truth" in keys else (keys[0] if keys else None)
        if best is not None:
            return f"; name the answer inside it with a dotted path: data.answer_field: {answer_field}.{best}"
        return "; name the answer inside it with a dotted path (data.answer_field: FIELD.KEY)"
    if isinstance(reference, list):
        return "; a list of sub-answers is what the `partial` verifier compares"
    return ""


def _describe(reference: Any) -> str:
    if isinstance(reference, dict):
        return f"a dict (keys: {', '.join(map(str, reference)) or 'none'})"
    if isinstance(reference, list):
        return f"a list of {len(reference)} items"
    return f"a {type(reference).__name__} ({reference!r:.60})"


def check_references(samples: Sequence[Sample], verifiers: Sequence[Any], *, answer_field: str,
                     what: str) -> None:
    """A `DataError` for the first sample whose reference one of `verifiers` (the config's
    `reward.verifiers` specs) cannot compare: its file and row, the field, the verifier and a
    hint. `what` says which set the samples are (training, held-out)."""
    for i, spec in enumerate(verifiers):
        types = reference_types(verifier_class(spec.name))
        if object in types:
            continue
        for sample in samples:
            if accepts(types, sample.answer):
                continue
            where = sample.where or f"a generated {what} prompt ({str(sample.prompt)[:60]!r})"
            raise DataError(f"{where}: field '{answer_field}' holds {_describe(sample.answer)}, but the verifier "
                            f"'{spec.name}' (reward.verifiers[{i}]) compares a reference of type "
                            f"{_type_names(types)}{_hint(sample.answer, answer_field, types)}")

