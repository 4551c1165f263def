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
    return [(content, end) for _, content, end in boxed_regions(text)]


def boxed_regions(text: str) -> list[tuple[int, str | None, int]]:
    """(start, content, end) of every box: `boxed_spans` with where each box starts."""
    out: list[tuple[int, str | None, int]] = []
    i = 0
    # next occurrence of each tag at or after i; re-searched only once passed, so a text
    # with many boxes but no \fbox is not rescanned to its end for every box
    found = {tag: text.find(tag) for tag in BOXED}
    while True:
        for tag in BOXED:
            if 0 <= found[tag] < i:
                found[tag] = text.find(tag, i)
        starts = [(s, tag) for tag, s in found.items() if s >= 0]
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
            out.append((start, None, len(text)))
            return out
        out.append((start, text[j + 1:k], k + 1))
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


# "the answer is 42", "Final answer: $42$", "answer = 42 cm" — the phrase, then the rest of the line
_ANSWER_PHRASE = re.compile(r"(?:final\s+answer|the\s+answer)\s*(?:is|:|=)\s*:?\s*([^\n]{1,200})", re.IGNORECASE)
_UNIT_WORDS = ("cm", "mm", "km", "m", "kg", "g", "mg", "s", "sec", "seconds", "minutes", "min", "hours",
               "h", "dollars", "cents", "degrees", "units", "meters", "metres", "inches", "feet", "miles",
               "liters", "litres", "ml", "l", "apples", "marbles", "stickers", "books", "coins", "shells",
               "pencils", "cards", "people", "students", "items")


def answer_phrase(text: str) -> str | None:
    """The answer stated in words when there is no box: what follows the last "the answer
    is" / "final answer:" on its line, without a trailing full stop."""
    found = None
    for m in _ANSWER_PHRASE.finditer(text):
        found = m.group(1)
    if found is None:
        return None
    return found.strip().rstrip(".").strip() or None


def strip_answer(answer: str) -> str:
    """Normalise an extracted answer before parsing: surrounding `$…$` / `\\(…\\)`, a
    trailing unit word or `\\text{ unit}`/`\\mbox{…}`, and a trailing full stop go."""
    a = answer.strip()
    for left, right in (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if len(a) >= len(left) + len(right) and a.startswith(left) and a.endswith(right):
            a = a[len(left):len(a) - len(right)].strip()
    a = a.rstrip(".").strip()
    unitless = re.sub(r"\s*\\(?:text|mbox|mathrm)\{\s*[A-Za-z ]{1,30}\}$", "", a)  # 42\text{ cm}
    if unitless.strip():  # \text{yes} alone is the answer, not a unit
        a = unitless
    words = a.split()
    if len(words) >= 2 and words[-1].lower().strip(".") in _UNIT_WORDS:
        a = " ".join(words[:-1])
    return a.strip()


ECHO_WINDOW = 60  # characters before an answer that must also match the prompt for it to count as copied


def strip_echoes(text: str, context: str) -> tuple[str, int]:
    """The completion with every final-answer marker copied from the prompt blanked out, and
    how many there were. A box (or an "the answer is …" line) counts as copied when it and
    the `ECHO_WINDOW` characters before it appear verbatim in `context` — e.g. a policy that
    repeats the worked example of its prompt, whose `\\boxed{}` holds that example's answer.
    Blanking keeps every other index in place; a legitimate answer is only affected if the
    policy wrote 60 characters of the prompt right before it."""
    if not context or not text:
        return text, 0
    cut: list[tuple[int, int]] = []
    regions = [(s, e) for s, content, e in boxed_regions(text) if content is not None]
    regions += [m.span() for m in _ANSWER_PHRASE.finditer(text)]
    for start, end in regions:
        if text[max(0, start - ECHO_WINDOW):end] in context:
            cut.append((start, end))
    if not cut:
        return text, 0
    chars = list(text)
    for start, end in cut:
        chars[start:end] = " " * (end - start)
    return "".join(chars), len(cut)
