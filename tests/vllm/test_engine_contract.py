"""The engine contract suite (tests/contracts/test_engines.py), run for `rollout.engine: vllm`
in float32 — the suite's log-prob check holds it to the trainer's scores within 1e-4."""
import pytest

pytest.importorskip("vllm", reason="needs vllm: `make vllm-env`, then `make test-vllm`")

from tests.contracts import test_engines as contract  # noqa: E402
from tests.vllm.conftest import vllm_engine, vllm_tiny_model  # noqa: E402


# every test of the contract suite, collected here with the `make` fixture below (a test added
# there runs here too)
globals().update({name: test for name, test in vars(contract).items() if name.startswith("test_")})


@pytest.fixture
def make():
    model, tok = vllm_tiny_model(0)
    prompts = [tok(p).input_ids for p in ("1+1=", "a longer prompt", "x")]

    def build(seed=0):
        return vllm_engine(model, tok, seed=seed)
    return build, model, tok, prompts


def test_the_tiny_preset_model_is_refused_before_it_loads():
    """vLLM's CPU attention has no kernel for head size 16 and would fail only at the first
    generation; the config check says so, and what to do, before any model loads."""
    from rlvr.config import load_config
    from rlvr.configtools import ConfigError
    from tests.conftest import CONFIGS

    with pytest.raises(ConfigError, match="head size is 16"):
        load_config(str(CONFIGS / "tiny.yaml"), {"rollout": {"engine": "vllm"}})
