"""Turning a sample into the token ids the policy sees: through the tokenizer's chat template
(`chat`), or as plain text for base models that have none (`raw`).

Every consumer renders through `render` with the options of `data` (`render_options`):
generation, the length check (`rlvr.data.fit`), evaluation and `rlvr label`, so a prompt is
the same tokens everywhere. The raw layout, for a chat of [system], worked examples, question:

    <system prompt>

    Question: <worked example's question>
    Answer: <worked example's answer>

    Question: <question>
    Answer:

Blocks are separated by one blank line; the model continues after `Answer:`. A chat given by
the data (a list of messages) is laid out the same way: `system` as a paragraph, `user` as
`Question:`, `assistant` as `Answer:`.
"""
from __future__ import annotations

import sys
import weakref
from dataclasses import dataclass
from typing import Any, Sequence

from rlvr.configtools import ConfigError
from rlvr.data.files import DataError
from rlvr.types import Sample

PROMPT_FORMATS = ("auto", "chat", "raw")
RAW_LABELS = {"user": "Question:", "assistant": "Answer:"}
RESERVED_TEMPLATE_KWARGS = frozenset({
    "conversation", "messages", "tokenize", "add_generation_prompt", "continue_final_message", "return_dict",
    "return_tensors", "return_assistant_tokens_mask", "padding", "truncation", "max_length", "tokenizer_kwargs"})
"""`apply_chat_template` arguments that rlvr sets itself: not allowed in `data.chat_template_kwargs`."""

_told_raw: "weakref.WeakSet" = weakref.WeakSet()  # tokenizers whose `auto` → raw was said on stderr


@dataclass(frozen=True)
class Turn:
    """A worked example: a user turn and the assistant's answer (what `few_shot` holds)."""

    prompt: str
    completion: str


def messages_for(sample: Sample, *, template: str = "{prompt}", system_prompt: str = "",
                 few_shot: Sequence = ()) -> list[dict]:
    """The chat: [system], few-shot turns, then the question. A sample that already is a
    chat (list of messages) is used as it is, with the system prompt added if it has none."""
    if isinstance(sample.prompt, list):
        chat = list(sample.prompt)
        if system_prompt and not any(m["role"] == "system" for m in chat):
            chat.insert(0, {"role": "system", "content": system_prompt})
        return chat
    chat = [{"role": "system", "content": system_prompt}] if system_prompt else []
    for shot in few_shot:
        chat.append({"role": "user", "content": shot.prompt})
        chat.append({"role": "assistant", "content": shot.completion})
    chat.append({"role": "user", "content": template.replace("{prompt}", sample.prompt)})
    return chat


def render_options(cfg) -> dict[str, Any]:
    """`render`'s keyword options from a `data` config section."""
    return dict(template=cfg.prompt_template, system_prompt=cfg.system_prompt, few_shot=cfg.few_shot,
                prompt_format=cfg.prompt_format, chat_template_kwargs=cfg.chat_template_kwargs)


def has_chat_template(tokenizer, chat_template_kwargs: dict | None = None) -> bool:
    return bool(getattr(tokenizer, "chat_template", None) or (chat_template_kwargs or {}).get("chat_template"))


def prompt_format_for(tokenizer, prompt_format: str = "auto", chat_template_kwargs: dict | None = None) -> str:
    """`chat` or `raw`: what `data.prompt_format` means for this tokenizer. `auto` without a
    template is `raw`, said once per tokenizer on stderr; `chat` without one is an error (a
    `ConfigError`: the setting does not suit the model, a one-line error of `rlvr`)."""
    if prompt_format not in PROMPT_FORMATS:
        raise ConfigError(f"bad value {prompt_format!r} for 'data.prompt_format'; allowed values: "
                         + ", ".join(PROMPT_FORMATS))
    template = has_chat_template(tokenizer, chat_template_kwargs)
    if prompt_format == "chat" and not template:
        raise ConfigError(f"'data.prompt_format' is 'chat', but the tokenizer ({_name(tokenizer)}) has no chat "
                         "template; use 'raw' (or 'auto') for a base model, or give a template as "
                         "'data.chat_template_kwargs: {chat_template: ...}'")
    if prompt_format == "raw" or (prompt_format == "auto" and not template):
        if chat_template_kwargs:  # they would be silently ignored
            raise ConfigError(f"'data.chat_template_kwargs' ({', '.join(sorted(chat_template_kwargs))}) is for the "
                             f"chat template, but the prompts are rendered as raw text ('data.prompt_format' "
                             f"{prompt_format!r}, tokenizer {_name(tokenizer)} " + (
                                 "has a template)" if template else "has no template)") + "; remove them")
        if prompt_format == "auto" and tokenizer not in _told_raw:
            _told_raw.add(tokenizer)
            print(f"note: the tokenizer ({_name(tokenizer)}) has no chat template, so prompts are plain text "
                  "(data.prompt_format: raw; layout in docs/models.md). Set data.prompt_format explicitly to "
                  "silence this.", file=sys.stderr, flush=True)
        return "raw"
    return "chat"


def _name(tokenizer) -> str:
    return getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__


def raw_text(chat: Sequence[dict]) -> str:
    """The plain-text layout of a chat (module docstring), ending with `Answer:`."""
    blocks, pending = [], []
    for message in chat:
        role, content = message.get("role"), str(message.get("content", ""))
        if role == "system":
            blocks.append(content)
        elif role in RAW_LABELS:
            pending.append(f"{RAW_LABELS[role]} {content}")
            if role == "assistant":  # a question and its answer form one block
                blocks.append("\n".join(pending))
                pending = []
        else:
            raise DataError(f"a chat message has the role {role!r}; the raw prompt format lays out system, "
                             "user and assistant messages only")
    pending.append("Answer:")
    blocks.append("\n".join(pending))
    return "\n\n".join(b for b in blocks if b)


def render(tokenizer, sample: Sample, *, prompt_format: str = "auto", chat_template_kwargs: dict | None = None,
           **kw) -> list[int]:
    """Token ids of the prompt: the templated chat ending with the assistant's turn opener
    (`chat`), or its plain-text layout (`raw`) with the tokenizer's own special tokens (a
    BOS where the tokenizer adds one)."""
    chat = messages_for(sample, **kw)
    if prompt_format_for(tokenizer, prompt_format, chat_template_kwargs) == "raw":
        try:
            text = raw_text(chat)
        except DataError as e:
            raise DataError(f"{sample.where}: {e}" if sample.where else str(e)) from None
        return list(tokenizer(text, add_special_tokens=True).input_ids)
    ids = tokenizer.apply_chat_template(chat, tokenize=True, add_generation_prompt=True,
                                        **(chat_template_kwargs or {}))
    return list(ids["input_ids"] if hasattr(ids, "keys") else ids)
