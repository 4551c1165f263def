"""Evaluation: unbiased pass@k and greedy accuracy."""
from rlvr.eval.evaluate import EvalResult, evaluate
from rlvr.eval.passk import mean_pass_at_k, pass_at_k

__all__ = ["EvalResult", "evaluate", "mean_pass_at_k", "pass_at_k"]
