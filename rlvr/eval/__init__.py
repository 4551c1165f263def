"""Evaluation: greedy accuracy, unbiased pass@k, maj@k, their intervals (rlvr.eval.stats)."""
from rlvr.eval.evaluate import EvalResult, evaluate
from rlvr.eval.stats import maj_at_k, mean_pass_at_k, pass_at_k

__all__ = ["EvalResult", "evaluate", "maj_at_k", "mean_pass_at_k", "pass_at_k"]
