"""The program of a completion, and the output comparison of stdin/stdout tests.

Fences follow CommonMark's fenced code blocks (spec.commonmark.org, §4.5) in the simple
form models write: a line of three or more backticks, optionally indented, optionally
followed by an info string whose first word names the language; the block ends at a line
of at least as many backticks and nothing else. An unclosed block runs to the end of the
text (a completion cut off by the token limit still has its program).
"""
from __future__ import annotations

PYTHON_TAGS = {"", "python", "python3", "py", "py3"}


def _fence(line: str) -> tuple[int, str] | None:
    """(backtick count, info string) when `line` is a fence line, else None. Plain string
    work, no regex: linear in the line whatever it holds."""
    stripped = line.lstrip(" ")
    if len(line) - len(stripped) > 3 or not stripped.startswith("```"):
        return None
    n = len(stripped) - len(stripped.lstrip("`"))
    info = stripped[n:].strip()
    if "`" in info:  # CommonMark: a backtick fence's info string has no backticks
        return None
    return n, info


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """All fenced blocks as (language tag, code), in order; the last may be unclosed."""
    blocks: list[tuple[str, str]] = []
    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        opening = _fence(lines[i])
        i += 1
        if opening is None:
            continue
        width, info = opening
        tag = info.split()[0].lower() if info else ""
        body: list[str] = []
        while i < len(lines):
            closing = _fence(lines[i])
            if closing is not None and closing[0] >= width and not closing[1]:
                break
            body.append(lines[i])
            i += 1
        blocks.append((tag, "\n".join(body)))
        i += 1
    return blocks


def extract_program(completion: str) -> str:
    """The last non-empty fenced Python block (```python, ```py or a bare ```), or the
    whole completion when it has none."""
    python = [code for tag, code in fenced_blocks(completion) if tag in PYTHON_TAGS and code.strip()]
    return python[-1] if python else completion


def normalize_output(text: str) -> str:
    """Trailing whitespace removed from every line and from the end; `\\r\\n` is `\\n`."""
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n")).rstrip()
