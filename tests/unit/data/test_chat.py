"""Prompt formats: the chat template, plain text for base models, template variables (issue 11 item 8)."""
import pytest

from rlvr.config import ConfigError, load_config
from rlvr.data import DataError, prompt_ids
from rlvr.data.chat import render, render_options
from rlvr.data.fit import PromptFitter
from rlvr.models import CHATML_TEMPLATE, tiny_tokenizer
from rlvr.types import Sample

SAMPLE = Sample(prompt="What is 2 + 3?", answer="5")


def _base_tokenizer():
    """A tokenizer as a base model ships it: no chat template."""
    tok = tiny_tokenizer()
    tok.chat_template = None
    return tok


def _data(*overrides):
    return load_config(None, list(overrides)).data


def _text(tok, ids):
    return tok.decode(ids, skip_special_tokens=False)


def test_raw_format_lays_out_system_examples_and_question():
    tok = _base_tokenizer()
    cfg = _data("--data.prompt_format=raw", "--data.system_prompt=Answer with a number.",
                "--data.prompt_template='Solve: {prompt}'",
                "--data.few_shot=[{prompt: 'What is 1 + 1?', completion: '2'}, {prompt: 'What is 4 - 1?', completion: '3'}]")
    assert _text(tok, render(tok, SAMPLE, **render_options(cfg))) == (
        "Answer with a number.\n\n"
        "Question: What is 1 + 1?\nAnswer: 2\n\n"
        "Question: What is 4 - 1?\nAnswer: 3\n\n"
        "Question: Solve: What is 2 + 3?\nAnswer:")


def test_raw_format_of_a_chat_given_by_the_data():
    tok = _base_tokenizer()
    chat = Sample(prompt=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2 + 2?"}],
                  answer="4")
    assert _text(tok, render(tok, chat, prompt_format="raw")) == "Be brief.\n\nQuestion: 2 + 2?\nAnswer:"
    odd = Sample(prompt=[{"role": "tool", "content": "x"}], answer="", where="data.jsonl line 3")
    with pytest.raises(DataError, match="data.jsonl line 3: a chat message has the role 'tool'"):
        render(tok, odd, prompt_format="raw")


def test_auto_is_raw_without_a_template_and_says_so_once(capsys):
    tok = _base_tokenizer()
    first = render(tok, SAMPLE, prompt_format="auto")
    second = render(tok, SAMPLE, prompt_format="auto")
    assert first == second == render(tok, SAMPLE, prompt_format="raw")
    err = capsys.readouterr().err
    assert err.count("has no chat template") == 1 and "data.prompt_format: raw" in err


def test_auto_is_chat_with_a_template(capsys):
    tok = tiny_tokenizer()
    ids = render(tok, SAMPLE, prompt_format="auto")
    assert _text(tok, ids) == "<|im_start|>user\nWhat is 2 + 3?<|im_end|>\n<|im_start|>assistant\n"
    assert ids == render(tok, SAMPLE, prompt_format="chat")
    assert capsys.readouterr().err == ""


def test_chat_without_a_template_is_an_error_that_says_what_to_do():
    with pytest.raises(ConfigError) as err:
        render(_base_tokenizer(), SAMPLE, prompt_format="chat")
    assert "'data.prompt_format' is 'chat'" in str(err.value) and "raw" in str(err.value)


def test_chat_template_kwargs_reach_the_template():
    tok = tiny_tokenizer()
    tok.chat_template = CHATML_TEMPLATE + "{% if enable_thinking is defined and not enable_thinking %}<think></think>{% endif %}"
    plain = _text(tok, render(tok, SAMPLE, prompt_format="chat"))
    thinking_off = _text(tok, render(tok, SAMPLE, prompt_format="chat", chat_template_kwargs={"enable_thinking": False}))
    assert not plain.endswith("<think></think>")
    assert thinking_off == plain + "<think></think>"


def test_a_template_given_in_the_kwargs_makes_a_base_model_chat():
    tok = _base_tokenizer()
    ids = render(tok, SAMPLE, prompt_format="auto", chat_template_kwargs={"chat_template": CHATML_TEMPLATE})
    assert _text(tok, ids).endswith("<|im_start|>assistant\n")


def test_template_kwargs_are_never_silently_ignored():
    with pytest.raises(ConfigError, match="chat_template_kwargs"):  # auto resolved to raw at run time
        render(_base_tokenizer(), SAMPLE, prompt_format="auto", chat_template_kwargs={"enable_thinking": False})
    with pytest.raises(ConfigError, match="'data.prompt_format' is 'raw'"):  # known at config time
        _data("--data.prompt_format=raw", "--data.chat_template_kwargs={enable_thinking: false}")
    with pytest.raises(ConfigError, match="add_generation_prompt"):
        _data("--data.chat_template_kwargs={add_generation_prompt: false}")
    with pytest.raises(ConfigError) as err:
        _data("--data.prompt_format=plain")
    assert "data.prompt_format" in str(err.value) and "'raw'" in str(err.value)


@pytest.mark.parametrize("fmt", ["raw", "chat"])
def test_generation_length_check_and_evaluation_render_the_same_prompt(fmt):
    tok = _base_tokenizer() if fmt == "raw" else tiny_tokenizer()
    cfg = _data(f"--data.prompt_format={fmt}", "--data.system_prompt=Think.",
                "--data.few_shot=[{prompt: 'What is 1 + 1?', completion: '2'}]")
    fitter = PromptFitter(tok, cfg, context=1024, max_new_tokens=16)  # training, evaluation, labels
    assert fitter(SAMPLE) == prompt_ids(tok, SAMPLE, cfg) == render(tok, SAMPLE, **render_options(cfg))
    assert fitter.check([SAMPLE], "training") == 0
    short = PromptFitter(tok, cfg, context=len(fitter(SAMPLE)) + 15, max_new_tokens=16)
    with pytest.raises(Exception, match="exceeds the model's context"):  # measured on the same tokens
        short.check([SAMPLE], "training")
