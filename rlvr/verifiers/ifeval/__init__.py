"""Instruction following, IFEval / IFBench style: a registry of checkable constraints and
the `ifeval` verifier. See docs/verifiers/ifeval.md.

* `CONSTRAINTS[id]` — a `Constraint` with `check(response, **kwargs)`, `describe(**kwargs)`,
  `sample_kwargs(rng)` and `bind(kwargs)`; ids are IFEval's (`keywords:existence`, ...) and
  IFBench-style `group:name` ids for the count/ratio/word/sentence/format constraints.
* `IFEvalVerifier(mode="all" | "fraction")` — reference `{"instruction_id_list": [...],
  "kwargs": [...]}`.
* `constraint_metrics(verdicts)` — per-instruction pass rates for the step metrics.
* `CONFLICTS` / `compatible(a, b)` — which instructions a prompt must not combine.
"""
from rlvr.verifiers.ifeval.registry import CONFLICTS, CONSTRAINTS, compatible, get_constraint
from rlvr.verifiers.ifeval.spec import RELATIONS, Constraint, Param
from rlvr.verifiers.ifeval.verifier import IFEvalVerifier, constraint_metrics, parse_reference

__all__ = ["CONFLICTS", "CONSTRAINTS", "RELATIONS", "Constraint", "IFEvalVerifier", "Param",
           "compatible", "constraint_metrics", "get_constraint", "parse_reference"]
