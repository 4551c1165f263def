"""Prompts are checked against the model's context (issue 9 item 10)."""
import json

import pytest

from rlvr.config import load_config
from rlvr.data import DataError, load_file
from rlvr.data.fit import PromptFitter, model_context
from rlvr.models import tiny_model
from rlvr.types import Sample


@pytest.fixture(scope="module")
def tiny():
    return tiny_model(0)


def _fitter(tok, truncate="error", max_new_tokens=24, context=1024):
    cfg = load_config(None, [f"--data.truncate={truncate}"]).data
    return PromptFitter(tok, cfg, context=context, max_new_tokens=max_new_tokens)


def test_a_prompt_that_leaves_no_room_names_its_row(tmp_path, tiny):
    """The probe: a 3,000-character prompt with the 1,024-position model trained silently."""
    model, tok = tiny
    assert model_context(model) == 1024
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"prompt": "1+0", "answer": "1"}) + "\n"
                    + json.dumps({"prompt": "9" * 3000, "answer": "1"}) + "\n")
    rows = load_file(path)
    fit = _fitter(tok)
    short = fit(rows[0])
    assert 3 < len(short) < 100
    with pytest.raises(DataError) as e:
        fit.check(rows, "training")
    # the character tokenizer: 3000 digits + the template's tokens > 1024 − 24 = 1000
    assert f"{path}:2: the prompt has " in str(e.value) and "at most 1000 prompt tokens fit" in str(e.value)
    assert "data.truncate: left" in str(e.value)


def test_left_truncation_keeps_the_end_and_counts(tiny):
    _, tok = tiny
    fit = _fitter(tok, "left")
    long = Sample("9" * 3000, "1")
    assert fit.check([long, Sample("1+0", "1")], "training") == 1
    ids = fit(long)
    assert len(ids) == 1000 and fit.truncated == 1
    assert ids == _fitter(tok, context=10**6)(long)[-1000:]  # the last 1000 tokens: the assistant opener stays


def test_completion_longer_than_the_context_is_refused(tiny):
    _, tok = tiny
    with pytest.raises(DataError, match="leaves no room for a prompt"):
        _fitter(tok, max_new_tokens=1024)


def test_a_model_without_a_known_context_is_not_checked(tiny):
    _, tok = tiny
    fit = _fitter(tok, context=None)
    assert fit.check([Sample("9" * 5000, "1")], "training") == 0
