"""A base model without a chat template, named by its hub id from the local Hugging Face cache,
trains and evaluates through the `rlvr` console script (issue 11 item 8). Before issue 11 the
run died with a traceback ("the tokenizer has no chat template"), and the hub id was refused."""
import json
import os
import subprocess

from rlvr.models import tiny_model
from tests.conftest import rlvr_cmd
from tests.unit.test_models import _fill_hub_cache


def test_base_model_from_the_hub_cache_trains_and_evaluates_with_raw_prompts(tmp_path, tiny_config_path):
    model, tok = tiny_model(0)
    tok.chat_template = None  # as a base model ships
    model.save_pretrained(tmp_path / "saved")
    tok.save_pretrained(tmp_path / "saved")
    _fill_hub_cache(tmp_path / "hub", "acme/tiny-base", tmp_path / "saved")
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    out = tmp_path / "run"
    proc = subprocess.run(rlvr_cmd() + ["train", tiny_config_path, "--out", str(out), "--run.progress=false",
                                        "--model.path=acme/tiny-base", "--model.device=cpu", "--run.steps=2",
                                        "--run.save_every=0", "--eval.size=4"],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("has no chat template, so prompts are plain text") == 1
    assert "Traceback" not in proc.stderr
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "reward/mean" in r] == [1, 2]
    assert json.loads((out / "eval.json").read_text())["after"]["problems"] == 4

    res = tmp_path / "eval.json"
    proc = subprocess.run(rlvr_cmd() + ["eval", "--model", str(out / "checkpoints" / "step-2"), "--device", "cpu",
                                        "--k", "", "--size", "4", "--json", str(res)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "has no chat template" in proc.stderr and "greedy accuracy" in proc.stdout
    # the same held-out prompts, rendered the same way, as the run's own final evaluation
    after = json.loads((out / "eval.json").read_text())["after"]
    data = json.loads(res.read_text())
    assert data["accuracy"] == after["accuracy"]
    assert [e["completion"] for e in data["examples"]] == [e["completion"] for e in after["examples"]]
