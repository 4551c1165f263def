"""`model.device` and the autocast that follows the model's device (issue 11 item 7).

Before issue 11, `model.autocast: bfloat16` opened CUDA autocast whenever torch saw CUDA,
while the model stayed on the CPU: bf16 silently did nothing. These tests pretend CUDA
exists (`torch.cuda.is_available` patched to True) and check, on the CPU, that the trainer's
and the critic's forward passes run under CPU autocast, with bf16 matmul outputs.
"""
import pytest
import torch

from rlvr.batching import collate, completion_logprobs
from rlvr.config import ConfigError, load_config
from rlvr.devices import autocast, resolve_device
from rlvr.methods.critic import ValueModel, completion_values
from rlvr.models import load_policy, tiny_model
from rlvr.types import Completion


@pytest.fixture
def recorded_autocasts(monkeypatch):
    """CUDA "exists", and every autocast that is switched on is recorded as (device type, dtype)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    real, seen = torch.autocast, []

    def spy(device_type, dtype=None, enabled=True, cache_enabled=None):
        if enabled:
            seen.append((device_type, dtype))
        return real(device_type, dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)
    monkeypatch.setattr(torch, "autocast", spy)
    return seen


def _batch(tok):
    prompts = [tok("1+1=", add_special_tokens=False).input_ids, tok("2+0=", add_special_tokens=False).input_ids]
    completions = [Completion(tok("2", add_special_tokens=False).input_ids + [tok.eos_token_id], [-1.0, -1.0],
                              "2", "stop", i) for i in range(2)]
    return collate(prompts, completions, tok.pad_token_id)


def _linear_output_dtypes(module):
    dtypes = []
    hooks = [m.register_forward_hook(lambda _m, _i, out: dtypes.append(out.dtype))
             for m in module.modules() if isinstance(m, torch.nn.Linear)]
    return dtypes, hooks


def test_trainer_forward_on_cpu_autocasts_for_the_cpu_even_when_cuda_exists(recorded_autocasts):
    model, tok = tiny_model(0)
    batch = _batch(tok)
    dtypes, hooks = _linear_output_dtypes(model)
    logp = completion_logprobs(model, batch, torch.arange(2), temperature=1.0, chunk_size=1024,
                               precision="bfloat16")
    for h in hooks:
        h.remove()
    assert recorded_autocasts == [("cpu", torch.bfloat16)]
    assert dtypes and set(dtypes) == {torch.bfloat16}  # the matmuls ran in bf16: autocast took effect
    assert logp.dtype == torch.float32 and torch.isfinite(logp).all()  # log-probs stay float32
    assert next(model.parameters()).dtype == torch.float32  # weights stay float32


def test_without_autocast_the_matmuls_stay_float32(recorded_autocasts):
    model, tok = tiny_model(0)
    dtypes, hooks = _linear_output_dtypes(model)
    completion_logprobs(model, _batch(tok), torch.arange(2), temperature=1.0, chunk_size=1024, precision="none")
    for h in hooks:
        h.remove()
    assert recorded_autocasts == [] and set(dtypes) == {torch.float32}


def test_critic_forward_autocasts_for_its_own_device(recorded_autocasts):
    model, tok = tiny_model(0)
    critic = ValueModel(model)
    assert critic.head.weight.device == next(model.parameters()).device
    dtypes, hooks = _linear_output_dtypes(critic.backbone)
    values = completion_values(critic, _batch(tok), torch.arange(2), precision="bfloat16")
    for h in hooks:
        h.remove()
    assert recorded_autocasts == [("cpu", torch.bfloat16)]
    assert set(dtypes) == {torch.bfloat16} and values.dtype == torch.float32


def test_autocast_takes_the_device_it_is_given():
    with autocast("bfloat16", torch.device("cpu")):
        assert torch.is_autocast_enabled("cpu")
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16
    with autocast("none", "cpu"):
        assert not torch.is_autocast_enabled("cpu")


def test_device_values_resolve_and_bad_ones_name_the_key(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    assert load_config(None, ["--model.device=auto"]).model.device == "auto"
    with pytest.raises(ConfigError) as err:
        load_config(None, ["--model.device=gpu"])
    assert "model.device" in str(err.value) and "auto, cpu, cuda, cuda:N" in str(err.value)
    for spec in ("cuda", "cuda:1"):  # no CUDA here: refused when the config is built, before any model loads
        with pytest.raises(ConfigError, match="no CUDA device"):
            load_config(None, [f"--model.device={spec}"])


def test_cuda_index_past_the_devices_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ConfigError, match="1 CUDA device"):
        load_config(None, ["--model.device=cuda:3"])


def test_collate_puts_every_tensor_on_the_device():
    _, tok = tiny_model(0)
    prompts = [tok("1+1=", add_special_tokens=False).input_ids]
    completions = [Completion([5, 6], [-0.5, -0.25], "x", "stop", 0)]
    # the meta device exists on every build: it shows where tensors go without a GPU
    batch = collate(prompts, completions, tok.pad_token_id, answers=[[7]], policy_mask=[[1.0, 1.0, 0.0]],
                    device="meta")
    for name in ("input_ids", "attention_mask", "rollout_logp", "answer_mask", "generated"):
        assert getattr(batch, name).device.type == "meta", name
    assert batch.to("meta") is batch  # already there: no copy
    on_cpu = collate(prompts, completions, tok.pad_token_id)
    moved = on_cpu.to("meta")
    assert moved.input_ids.device.type == "meta" and moved.prompt_width == on_cpu.prompt_width
    assert on_cpu.input_ids.device.type == "cpu"  # the original is left as it was


def test_the_policy_loads_on_the_configured_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    model, _ = load_policy("tiny", device="auto")
    assert {p.device.type for p in model.parameters()} == {"cpu"}
    with pytest.raises(ConfigError, match="no CUDA device"):
        load_policy("tiny", device="cuda")
