"""Code execution reward: model-written Python run against test cases in a sandbox.

`CodeVerifier` (config name `code`) scores a completion; `run_python` is the sandbox it uses,
usable on its own; `extract_program` picks the program out of a completion. Guarantees and
limits of the sandbox, layer by layer: docs/verifiers/code.md.
"""
from rlvr.verifiers.code.extract import extract_program, normalize_output
from rlvr.verifiers.code.sandbox import RunResult, probe, run_python
from rlvr.verifiers.code.verifier import CodeVerifier, parse_reference

__all__ = ["CodeVerifier", "RunResult", "extract_program", "normalize_output", "parse_reference",
           "probe", "run_python"]
