"""Verifiers for tests/e2e/test_reliability.py, loaded in the pool's workers by import path."""


class AlwaysRaises:
    """A verifier broken for every input (a missing dependency, a wrong reference format)."""

    def __call__(self, completion, reference, meta):
        raise RuntimeError("this verifier is broken")
