"""`rlvr compare SPEC.yaml`: several methods trained under identical conditions over several
seeds, then summarised with intervals over the seeds (docs/compare.md).

spec.py reads and checks the spec and builds each run's config; run.py trains the runs (reusing
finished ones, resuming unfinished ones, `--jobs` at once) and evaluates pass@k; summary.py
turns the run folders into summary.json and table.md; plots.py draws the curves.
"""


class CompareError(RuntimeError):
    """A run of the comparison failed or cannot be reused; the message says which and why."""
