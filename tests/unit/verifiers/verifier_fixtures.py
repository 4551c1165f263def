"""Verifiers used only by tests, loaded in the pool's worker processes by their import path
(`tests.unit.verifiers.verifier_fixtures:Name`), to exercise batch calls, failures and hangs."""
import time

from rlvr.verifiers.base import Verdict


class GroupProbe:
    """A group verifier that reports what group it saw: reward = position / group size."""
    name = "group_probe"
    needs_group = True

    def batch(self, completions, references, metas):
        n = len(completions)
        return [Verdict(i / n, {"group": list(completions), "prompt": m.get("prompt", "")})
                for i, m in enumerate(metas)]

    def __call__(self, completion, reference, meta):
        return self.batch([completion], [reference], [meta])[0]

    @staticmethod
    def step_metrics(verdicts):
        return {"group_probe/mean_group_size": sum(len(v.info.get("group", [])) for v in verdicts) / len(verdicts)}


class ChunkProbe:
    """A chunked verifier (like a model judge): reward = the chunk's size; 'boom' raises,
    'sleep' hangs, 'short' returns one verdict too few."""
    name = "chunk_probe"
    batch_size = 3

    def batch(self, completions, references, metas):
        if "boom" in completions:
            raise RuntimeError("boom")
        if "sleep" in completions:
            time.sleep(60)
        out = [Verdict(float(len(completions)), {}) for _ in completions]
        return out[:-1] if "short" in completions else out

    def __call__(self, completion, reference, meta):
        return self.batch([completion], [reference], [meta])[0]
