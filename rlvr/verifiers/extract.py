"""Finding the final answer in a completion."""
from __future__ import annotations

import re

BOXED = ("\\boxed", "\\fbox")


def boxed_spans(text: str) -> list[tuple[str | None, int]]:
    """(content, end) of every `\\boxed{...}` / `\\fbox{...}` in order, matching nested
    braces; `end` is the index just after the closing brace.

    An unclosed box yields (None, len(text)) and ends the scan, so callers can tell
    "malformed" from "absent". Linear in the text length and never recursive, so deeply
    nested braces are harmless.
    """
    out: list[tuple[str | None, int]] = []
    i = 0
    while True:
        starts = [(text.find(tag, i), tag) for tag in BOXED]
        starts = [(s, tag) for s, tag in starts if s >= 0]
        if not starts:
            return out
        start, tag = min(starts)
        j = start + len(tag)
        while j < len(text) and text[j] == " ":
            j += 1
        if j >= len(text) or text[j] != "{":
            i = start + len(tag)
            continue
        depth, k = 0, j
        while k < len(text):
            if text[k] == "{":
                depth += 1
            elif text[k] == "}":
                depth -= 1
                if depth == 0:
                    break
            k += 1
        if depth != 0:
            out.append((None, len(text)))
            return out
        out.append((text[j + 1:k], k + 1))
        i = k + 1


def boxed_contents(text: str) -> list[str | None]:
    """Contents of every box in order (None for an unclosed one)."""
    return [content for content, _ in boxed_spans(text)]


def last_boxed(text: str) -> str | None:
    """The content of the last complete `\\boxed{}`, or None."""
    boxes = [b for b in boxed_contents(text) if b is not None]
    return boxes[-1] if boxes else None


def last_match(text: str, pattern: str) -> str | None:
    """Group 1 (or the whole match) of the last match of `pattern`, or None."""
    last = None
    for m in re.finditer(pattern, text):
        last = m
    if last is None:
        return None
    return last.group(1) if last.groups() else last.group(0)
