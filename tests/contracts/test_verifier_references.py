"""Every registered verifier declares the reference types it compares (`reference_types`),
and the declaration agrees with what the verifier does with such a reference."""
import pytest

from rlvr.verifiers import REGISTRY
from rlvr.verifiers.references import accepts
from tests.contracts.test_verifiers import SETUPS

COMPARE_ANSWERS = ("math", "strict", "judge", "self_verify")


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_every_verifier_declares_its_reference_types(name):
    cls = REGISTRY[name]
    assert "reference_types" in vars(cls), f"{cls.__name__} must declare reference_types itself"
    types = cls.reference_types
    assert isinstance(types, tuple) and types and all(isinstance(t, type) for t in types)
    options, reference, _ = SETUPS[name]
    assert accepts(types, reference), f"{name} refuses its own contract reference"


@pytest.mark.parametrize("name", COMPARE_ANSWERS)
def test_answer_comparing_verifiers_refuse_dicts_and_lists(name):
    types = REGISTRY[name].reference_types
    assert not accepts(types, {"style": "rule", "ground_truth": "5"}) and not accepts(types, ["5"])


def test_a_refused_reference_is_one_the_verifier_cannot_score():
    """What `math` refuses, it scores 0 even for the right answer (or raises, which the pool
    turns into 0): the silent zero of issue 11 item 2 that the check prevents."""
    verl = {"style": "rule", "ground_truth": "5"}
    for name in ("math", "strict"):
        verifier = REGISTRY[name]()
        assert verifier("\\boxed{5}", "5", {}).reward == 1
        try:
            reward = verifier("\\boxed{5}", verl, {}).reward
        except ValueError:
            reward = 0.0
        assert reward == 0, name
