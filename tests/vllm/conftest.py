"""Fixtures of the vLLM tests (tests/vllm). They run in .venv-vllm (`make test-vllm`); every
module starts with `pytest.importorskip("vllm")`, so elsewhere they are skipped, saying why."""
import gc

import pytest

# vLLM's CPU attention takes head sizes 32, 64, 80, … (`CPUAttentionBackend`); the tiny preset's
# model (hidden 64, 4 heads: head size 16) has none of them, so the vLLM tests use the same
# tiny Llama at hidden 128 (head size 32).
VLLM_TINY_HIDDEN = 128
KV_CACHE_GIB = 1 / 16  # the test models are tiny: 64 MiB of KV cache is over 100k tokens


def vllm_tiny_model(seed: int = 0):
    from rlvr.models import tiny_model

    return tiny_model(seed, hidden=VLLM_TINY_HIDDEN)


def vllm_engine(model, tokenizer, **kwargs):
    """The engine `rollout.engine: vllm` builds, with a KV cache sized for the tiny models."""
    from rlvr.rollout import engine_class

    return engine_class("vllm")(model, tokenizer, kv_cache_gib=KV_CACHE_GIB, **kwargs)


def assert_resume_from_middle_matches(out, resumed, train, *, last: int, middle: int) -> None:
    """Resume a copy of run `out` from its step-`middle` checkpoint (`train(args)` runs
    `rlvr train`): its final weights equal the uninterrupted run's, bit for bit."""
    import shutil

    from safetensors.torch import load_file

    shutil.copytree(out, resumed)
    for step in range(middle + 1, last + 1):
        shutil.rmtree(resumed / "checkpoints" / f"step-{step}", ignore_errors=True)
    train(["--resume", str(resumed)])
    a = load_file(out / "checkpoints" / f"step-{last}" / "model.safetensors")
    b = load_file(resumed / "checkpoints" / f"step-{last}" / "model.safetensors")
    assert a.keys() == b.keys() and all(a[k].equal(b[k]) for k in a)


@pytest.fixture(autouse=True)
def free_engines():
    """An engine holds its KV cache until collected: free it after each test."""
    yield
    gc.collect()
