"""A LoRA run's adapter names its base and loads with peft on it (issue 11, point 6): the
adapter applied to the base gives the logits of the merged checkpoint saved beside it."""
import json
import subprocess

import pytest
import torch

from rlvr.models import tiny_model
from tests.conftest import rlvr_cmd

pytestmark = pytest.mark.e2e


def test_adapter_loads_with_peft_on_its_recorded_base(tmp_path, tiny_config_path):
    model, tokenizer = tiny_model(0)
    base = tmp_path / "base"
    model.save_pretrained(base)
    tokenizer.save_pretrained(base)
    run = tmp_path / "run"
    # a relative model path, as a user types it: the adapter must still name the base absolutely
    proc = subprocess.run(rlvr_cmd() + ["train", tiny_config_path, "--out", str(run), "--model.path=base",
                                        "--model.lora.rank=4", "--model.lora.alpha=8", "--optim.lr=0.05",
                                        "--run.steps=2", "--run.progress=false", "--eval.before=false",
                                        "--eval.after=false"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    ckpt = run / "checkpoints" / "step-2"
    recorded = json.loads((ckpt / "adapter" / "adapter_config.json").read_text())["base_model_name_or_path"]
    assert recorded == str(base.resolve())

    from peft import AutoPeftModelForCausalLM
    from transformers import AutoModelForCausalLM

    with_adapter = AutoPeftModelForCausalLM.from_pretrained(str(ckpt / "adapter")).eval()
    merged = AutoModelForCausalLM.from_pretrained(str(ckpt)).eval()
    plain = AutoModelForCausalLM.from_pretrained(str(base)).eval()
    ids = torch.tensor([tokenizer.encode("What is 12 + 7? The answer is")])
    with torch.no_grad():
        a, m, p = (x(input_ids=ids).logits for x in (with_adapter, merged, plain))
    assert torch.allclose(a, m, atol=1e-5)
    assert not torch.allclose(a, p, atol=1e-3)  # the adapter learned something: not the bare base
