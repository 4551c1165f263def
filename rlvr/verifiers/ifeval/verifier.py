"""The `ifeval` verifier: does a response follow every instruction of its reference?

Reference (IFEval's data format, Zhou et al. 2023, arXiv 2311.07911, so IFEval-style data
works unchanged): `{"instruction_id_list": ["keywords:existence", ...], "kwargs": [{...},
...]}`, one kwargs dict per id (`{}` or `None` values for absent arguments); a JSON string of
that dict is accepted too. Reward: 1 if all are followed, else 0 (`mode="all"`, IFEval's
prompt-level accuracy), or the fraction followed (`mode="fraction"`, open-instruct's IF
reward, ALGORITHMS.md §14). `loose=True` counts an instruction as followed when any of
IFEval's eight "loose" variants of the response follows it (first and/or last line removed,
with or without `*`).
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from rlvr.verifiers.base import Verdict
from rlvr.verifiers.ifeval.registry import get_constraint
from rlvr.verifiers.ifeval.spec import Constraint

MODES = ("all", "fraction")
METRIC_PREFIX = "ifeval/"


def parse_reference(reference: Any) -> list[tuple[str, Constraint, dict]]:
    """`[(id, constraint, bound kwargs), ...]` from an IFEval reference; ValueError (naming
    the id and the argument) for unknown ids and malformed kwargs."""
    if isinstance(reference, str):
        try:
            reference = json.loads(reference)
        except ValueError:
            raise ValueError("an ifeval reference given as a string must be JSON") from None
    if not isinstance(reference, dict) or "instruction_id_list" not in reference:
        raise ValueError("an ifeval reference is a dict with 'instruction_id_list' and 'kwargs', "
                         f"got {type(reference).__name__}")
    ids = reference["instruction_id_list"]
    kwargs = reference.get("kwargs")
    if not isinstance(ids, list) or not ids:
        raise ValueError("'instruction_id_list' must be a non-empty list of instruction ids")
    if kwargs is None:
        kwargs = [{}] * len(ids)
    if not isinstance(kwargs, list) or len(kwargs) != len(ids):
        raise ValueError(f"'kwargs' must be a list with one dict per instruction id ({len(ids)})")
    out = []
    for cid, kw in zip(ids, kwargs):
        constraint = get_constraint(cid)
        out.append((cid, constraint, constraint.bind(kw)))
    return out


def loose_variants(response: str) -> list[str]:
    """IFEval's loose variants: the response without its first line, its last line, or
    both, each also with every `*` removed (the original included)."""
    lines = response.split("\n")
    base = ["\n".join(lines), "\n".join(lines[1:]), "\n".join(lines[:-1]), "\n".join(lines[1:-1])]
    return base + [v.replace("*", "") for v in base]


class IFEvalVerifier:
    name = "ifeval"
    reference_types = (dict, str)  # {instruction_id_list, kwargs}, or that object as JSON text

    def __init__(self, *, mode: str = "all", loose: bool = False, strip_thinking: bool = True) -> None:
        """`mode`: "all" (reward 1 when every instruction is followed, else 0) or "fraction"
        (reward = followed / total). `loose`: IFEval's loose check (see the module docstring).
        `strip_thinking`: check only the text after the last `</think>`, as open-instruct does."""
        if mode not in MODES:
            raise ValueError(f"ifeval mode must be one of {list(MODES)}, got {mode!r}")
        self.mode, self.loose, self.strip_thinking = mode, loose, strip_thinking

    def response_of(self, completion: str) -> str:
        if self.strip_thinking and "</think>" in completion:
            return completion.rsplit("</think>", 1)[1]
        return completion

    def _followed(self, constraint: Constraint, kwargs: dict, response: str) -> bool:
        if not self.loose:
            return bool(constraint.check(response, **kwargs))
        return any(v.strip() and constraint.check(v, **kwargs) for v in loose_variants(response))

    def __call__(self, completion: str, reference: Any, meta: dict | None = None) -> Verdict:
        if not isinstance(completion, str):
            raise TypeError(f"completion must be a string, got {type(completion).__name__}")
        checks = parse_reference(reference)
        response = self.response_of(completion)
        empty = not response.strip()
        results: dict[str, bool] = {}
        for cid, constraint, kwargs in checks:
            key, n = cid, 1
            while key in results:  # the same id twice in one reference
                n += 1
                key = f"{cid}#{n}"
            results[key] = not empty and self._followed(constraint, kwargs, response)
        satisfied, total = sum(results.values()), len(results)
        reward = satisfied / total if self.mode == "fraction" else float(satisfied == total)
        info: dict[str, Any] = {"constraints": results, "satisfied": satisfied, "total": total}
        if empty:
            info["reason"] = "empty_response"
        return Verdict(reward, info)


def _per_constraint(info: dict) -> dict[str, bool]:
    found = info.get("constraints")
    return {k: v for k, v in found.items() if isinstance(v, bool)} if isinstance(found, dict) else {}


def constraint_metrics(verdicts: Iterable[Verdict]) -> dict[str, float]:
    """Step metrics from `ifeval` verdicts: `ifeval/<id>` is the pass rate of each
    instruction id over the verdicts that asked for it; `ifeval/prompt_level` the fraction of
    verdicts with every instruction followed and `ifeval/instruction_level` the fraction of
    all instructions followed (IFEval's two accuracies). Verdicts without per-constraint
    results (errors, timeouts, other verifiers) are skipped."""
    passed: dict[str, int] = {}
    seen: dict[str, int] = {}
    prompts = prompts_ok = 0
    for v in verdicts:
        per = _per_constraint(v.info)
        if not per:
            continue
        prompts += 1
        prompts_ok += all(per.values())
        for key, ok in per.items():
            cid = re.sub(r"#\d+$", "", key)
            seen[cid] = seen.get(cid, 0) + 1
            passed[cid] = passed.get(cid, 0) + ok
    if not prompts:
        return {}
    out = {METRIC_PREFIX + cid: passed[cid] / seen[cid] for cid in sorted(seen)}
    out[METRIC_PREFIX + "prompt_level"] = prompts_ok / prompts
    out[METRIC_PREFIX + "instruction_level"] = sum(passed.values()) / sum(seen.values())
    return out
