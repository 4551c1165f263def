"""Turning a sample into the token ids the policy sees, through the tokenizer's template."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from rlvr.types import Sample


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


def render(tokenizer, sample: Sample, **kw) -> list[int]:
    """Token ids of the templated chat, ending with the assistant's turn opener."""
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError("the tokenizer has no chat template; give the model one or use a "
                         "model folder that ships it")
    ids = tokenizer.apply_chat_template(messages_for(sample, **kw), tokenize=True,
                                        add_generation_prompt=True)
    return list(ids["input_ids"] if hasattr(ids, "keys") else ids)
