"""bench/scale_model.py, the 8- and 64-GPU calculation of docs/scale.md: its formulas by hand."""
import importlib.util
import sys
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("scale_model", Path(__file__).parents[2] / "bench" / "scale_model.py")
sm = importlib.util.module_from_spec(_spec)
sys.modules["scale_model"] = sm  # its dataclass looks its module up there
_spec.loader.exec_module(sm)


def test_kv_cache_bytes_per_token_of_qwen2_5_7b():
    # K and V × 28 layers × 4 KV heads × 128 dims × 2 bytes = 57,344 bytes
    assert sm.KV_BYTES_PER_TOKEN == 57_344


def test_weight_sync_is_an_all_gather_over_nvlink_then_infiniband():
    # 8 GPUs: 7.62e9 × 2 B × 7/8 / 450e9 B/s = 0.029633 s; 64: × 63/64 / 50e9 = 0.300038 s
    assert sm.weight_sync_seconds(8) == pytest.approx(0.029633, rel=1e-4)
    assert sm.weight_sync_seconds(64) == pytest.approx(0.300038, rel=1e-4)


def test_a_small_decode_batch_is_bound_by_reading_the_weights():
    # 1 sequence: weights 15.24e9 B / (3.35e12 × 0.8) = 5.6866 ms; compute 15.24e9 / (989e12 × 0.5)
    # = 0.0308 ms (smaller); KV: 768 tokens × 57,344 B / 2.68e12 = 0.01643 ms; 5.7031 ms in all
    assert sm.decode_step_seconds(1) == pytest.approx(5.7031e-3, rel=1e-3)


def test_training_time_is_flops_over_delivered_flops():
    # 4,096 × 1,280 tokens × 8 × 7.62e9 FLOPs / (8 × 989e12 × 0.4) = 100.99 s
    assert sm.step(8).training_s == pytest.approx(100.99, rel=1e-3)
    assert sm.step(64).training_s == pytest.approx(100.99 / 8, rel=1e-3)
