"""maj@k votes on the answers the scoring verifier reads (rlvr.eval.vote)."""
from rlvr.config import VerifierSpec
from rlvr.eval.vote import voter_for

META = {"prompt": "What is 1/2?", "context": "What is 1/2?"}


def _labels(name, completions, **options):
    voter, why = voter_for([VerifierSpec(name, options=options)])
    assert voter is not None, why
    return voter.labels(completions, [META] * len(completions))


def test_math_votes_by_equivalence_strict_by_text():
    texts = [r"\boxed{1/2}", r"\boxed{0.5}", r"\boxed{3}", "no answer", r"\boxed{1} or \boxed{2}"]
    # 1/2 ≡ 0.5 under math-verify: one cluster; a hedge (two different boxes) casts no vote
    assert _labels("math", texts) == [0, 0, 1, None, None]
    assert _labels("strict", texts) == [0, 1, 2, None, None]


def test_the_verifiers_answer_pattern_is_used():
    assert _labels("math", ["ab 7", "x 7 y 7", "8"], answer_pattern=r"(\d+)") == [0, 0, 1]


def test_reasoning_gym_votes_on_its_final_answer():
    texts = ["<answer>4</answer>", "so <answer>4</answer>", "<answer>5</answer>", "<answer>4</answer><answer>5</answer>"]
    assert _labels("reasoning_gym", texts) == [0, 0, 1, None]


def test_verifiers_without_an_answer_give_no_maj_at_k():
    voter, why = voter_for([VerifierSpec("ifeval")])
    assert voter is None and "ifeval" in why
    # the verifier that decides correctness chooses the voter, not the first one listed
    voter, _ = voter_for([VerifierSpec("format"), VerifierSpec("strict")], accuracy_from="strict")
    assert "strict" in voter.how
