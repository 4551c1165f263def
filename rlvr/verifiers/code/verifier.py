"""Reward for model-written Python that passes test cases, run in the sandbox (`sandbox.py`).

Reference (a dict, or the same as a JSON string):
- `{"tests": [{"stdin": "...", "stdout": "..."}, ...]}`: one sandboxed run per test; a test
  passes when the program exits 0 and its stdout equals the expected one after trailing
  whitespace is removed from every line and from the end — the convention of stdin/stdout
  judges such as APPS (Hendrycks et al., 2021) and CodeContests (Li et al., 2022);
- `{"asserts": "<python source>"}`: the program runs, then the source's top-level statements
  run one at a time (the MBPP / HumanEval style, Austin et al. 2021, Chen et al. 2021) in a
  separate judge process that sees the program's names as plain data or handles, so the
  program can neither forge the results nor see the tests; each top-level `assert` is one
  test. A source without any top-level assert is one test that passes when everything ran
  and the process exited 0.

The program is the last fenced Python block of the completion (`extract.py`).
Reward: the fraction of tests passed (`mode="fraction"`) or 1 only if all pass (`"all"`).
A program that attempts a blocked operation (a socket, a fork, a write outside its
folder...) gets 0 whatever else it passed.
"""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from rlvr.verifiers.base import Verdict
from rlvr.verifiers.code.extract import extract_program, normalize_output
from rlvr.verifiers.code.sandbox import RunResult, count_asserts, probe, run_python

MAX_PROGRAM_CHARS = 100_000  # a longer "program" is not an answer; compiling it only costs time
MODES = ("fraction", "all")
LAYERS = ("netns", "tmpfs", "rlimits", "landlock", "seccomp", "caps", "audit")


def parse_reference(reference: Any) -> tuple[list[tuple[str, str]] | None, str | None]:
    """(stdin/stdout pairs, None) or (None, assert source); a user error raises ValueError."""
    if isinstance(reference, str):
        try:
            reference = json.loads(reference)
        except json.JSONDecodeError as e:
            raise ValueError(f"a code reference given as text must be JSON: {e}") from None
    if not isinstance(reference, dict):
        raise ValueError("a code reference is {'tests': [{'stdin': ..., 'stdout': ...}]} or "
                         f"{{'asserts': '<python source>'}}, got {type(reference).__name__}")
    if "tests" in reference:
        tests = reference["tests"]
        if not isinstance(tests, list) or not tests or not all(isinstance(t, dict) and "stdout" in t for t in tests):
            raise ValueError("'tests' must be a non-empty list of {'stdin': ..., 'stdout': ...}")
        return [(str(t.get("stdin", "") or ""), str(t["stdout"])) for t in tests], None
    if "asserts" in reference:
        source = str(reference["asserts"])
        try:
            count_asserts(source)
        except SyntaxError as e:
            raise ValueError(f"the reference's asserts do not parse: {e}") from None
        return None, source
    raise ValueError(f"a code reference needs 'tests' or 'asserts'; it has {sorted(reference)}")


def isolation_label(isolation: dict) -> str:
    """E.g. "netns+tmpfs+rlimits6+landlock7+seccomp+caps+audit": the layers in force."""
    parts = []
    for key in LAYERS:
        value = isolation.get(key)
        if value:
            parts.append(f"{key}{value}" if key in ("landlock", "rlimits") else key)
    return "+".join(parts) or "none"


class CodeVerifier:
    name = "code"
    reference_types = (dict, str)  # {tests: [...]} or {asserts: ...}, or that object as JSON text

    def __init__(self, *, mode: str = "fraction", timeout_s: float = 2.0, memory_mb: int = 512,
                 max_output_bytes: int = 1 << 20, max_file_bytes: int = 10 << 20, workers: int = 1,
                 require: tuple[str, ...] | list[str] = ()) -> None:
        """`mode`: "fraction" (of tests passed) or "all" (1 only if every test passes).
        `timeout_s`: wall-clock and CPU limit per test. `memory_mb`: address-space limit.
        `max_output_bytes`: stdout + stderr per run. `max_file_bytes`: largest file written.
        `workers`: tests of one call run in parallel on this many threads (each launches
        its own sandbox process); the trainer's `VerifierPool` already runs completions in
        parallel, so 1 is right unless a call has many slow tests. `require`: isolation
        layers (of netns, tmpfs, rlimits, landlock, seccomp, caps, audit) without which the verifier refuses
        to run — e.g. ["netns", "seccomp"] on a shared machine."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        unknown = set(require) - set(LAYERS)
        if unknown:
            raise ValueError(f"unknown isolation layers {sorted(unknown)}; known: {LAYERS}")
        if timeout_s <= 0 or memory_mb <= 0 or max_output_bytes <= 0 or workers < 1:
            raise ValueError("timeout_s, memory_mb and max_output_bytes must be positive, workers >= 1")
        self.mode, self.timeout_s, self.memory_mb = mode, float(timeout_s), int(memory_mb)
        self.max_output_bytes, self.max_file_bytes = int(max_output_bytes), int(max_file_bytes)
        self.workers, self.require = int(workers), tuple(require)
        self._checked = False

    def prepare(self) -> None:
        """Checks `require` once, before the first timed call."""
        if self._checked or not self.require:
            self._checked = True
            return
        isolation = probe()
        missing = [layer for layer in self.require if not isolation.get(layer)]
        if missing:
            raise RuntimeError(f"the code sandbox lacks required isolation {missing} on this machine "
                               f"(in force: {isolation_label(isolation)}); see docs/verifiers/code.md")
        self._checked = True

    def _run(self, program: str, stdin: str = "", asserts: str | None = None) -> RunResult:
        result = run_python(program, stdin, timeout_s=self.timeout_s, memory_mb=self.memory_mb,
                            max_output_bytes=self.max_output_bytes, max_file_bytes=self.max_file_bytes,
                            asserts=asserts)
        if result.status == "sandbox_error":  # the machinery, not the program: say so loudly
            raise RuntimeError(f"the code sandbox failed to start a program: {result.reason}")
        return result

    def _stdio(self, program: str, tests: list[tuple[str, str]]) -> tuple[list[str | None], list[RunResult]]:
        """Per test: None when passed, else the reason; tests after a stop are not run."""
        reasons: list[str | None] = ["not_run"] * len(tests)
        results: list[RunResult] = []

        def one(i: int) -> tuple[int, RunResult]:
            stdin, expected = tests[i]
            r = self._run(program, stdin)
            ok = r.status == "ok" and normalize_output(r.stdout) == normalize_output(expected)
            reasons[i] = None if ok else (r.reason or "wrong_answer")
            return i, r

        def stop(i: int) -> bool:
            return reasons[i] is not None and (self.mode == "all" or reasons[i].startswith("blocked"))

        if self.workers == 1 or len(tests) == 1:
            for i in range(len(tests)):
                results.append(one(i)[1])
                if stop(i):
                    break
            return reasons, results
        with ThreadPoolExecutor(max_workers=min(self.workers, len(tests))) as pool:
            futures = [pool.submit(one, i) for i in range(len(tests))]
            for i, future in enumerate(futures):  # in test order: results match the tests
                results.append(future.result()[1])
                if stop(i):
                    pool.shutdown(wait=True, cancel_futures=True)
                    break
        return reasons, results

    def __call__(self, completion: str, reference: Any, meta: dict | None = None) -> Verdict:
        if not self._checked:
            self.prepare()
        tests, asserts = parse_reference(reference)
        program = extract_program(completion)
        if not program.strip():
            return Verdict(0.0, {"reason": "no_program"})
        if len(program) > MAX_PROGRAM_CHARS:
            return Verdict(0.0, {"reason": "program_too_long"})
        try:
            compile(program, "<program>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError, MemoryError, RecursionError) as e:
            return Verdict(0.0, {"reason": "syntax_error", "detail": f"{type(e).__name__}: {str(e)[:200]}"})
        if tests is not None:
            reasons, results = self._stdio(program, tests)
            total = len(tests)
            passed = sum(r is None for r in reasons)
            failures = [r for r in reasons if r is not None]
        else:
            result = self._run(program, asserts=asserts)
            results = [result]
            n = len(result.asserts)
            if n:
                total, passed = n, sum(result.asserts)
            else:
                total, passed = 1, int(result.status == "ok")
            failures = [result.reason or "assert_failed"] if passed < total else []
        blocked = [f for f in failures if f.startswith("blocked")]
        if blocked:
            passed, failures = 0, blocked
        info: dict[str, Any] = {"passed": passed, "total": total,
                                "isolation": isolation_label(results[0].isolation if results else {})}
        if failures:
            info["reason"] = failures[0]
            failed = next((r for r in results if r.status != "ok"), None)
            if failed is not None and failed.stderr.strip():
                info["stderr"] = failed.stderr.strip()[-300:]
        if self.mode == "all":
            return Verdict(float(passed == total), info)
        return Verdict(passed / total, info)
