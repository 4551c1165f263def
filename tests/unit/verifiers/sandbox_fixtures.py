"""What the code-sandbox tests share: the verifier under test, the isolation layers this
machine gives, and the small limits that keep the tests fast."""
import pytest

from rlvr.verifiers.code import CodeVerifier, probe

LIMITS = dict(timeout_s=1.0, memory_mb=256, max_output_bytes=1 << 20)
ONE_TEST = {"tests": [{"stdin": "", "stdout": "done"}]}


@pytest.fixture(scope="module")
def verifier():
    return CodeVerifier(**LIMITS)


@pytest.fixture(scope="module")
def layers():
    return probe()
