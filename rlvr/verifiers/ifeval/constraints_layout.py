"""IFEval's constraints on layout: formats, content markers, start and end, combinations;
plus `startend:start_checker` (new, the mirror image of `end_checker`).

Ids and argument names are IFEval's (Zhou et al. 2023, arXiv 2311.07911). Deliberate
differences, documented in docs/verifiers/ifeval.md: a bullet is `*` or `-` followed by
whitespace at the start of a line (IFEval also counted `*italic*` lines and `---` rules);
section headers and postscripts must start a line; section headers match case-insensitively;
a title, placeholder or highlight must have non-blank content; curly quotes count for
`startend:quotation`. Every pattern is linear-time (no nested or overlapping quantifiers).
"""
from __future__ import annotations

import json
import re
from functools import lru_cache

from rlvr.verifiers.ifeval import vocab
from rlvr.verifiers.ifeval.spec import Constraint, Param, n_of

_TITLE_RE = re.compile(r"<<([^\n<>]+)>>")
_PLACEHOLDER_RE = re.compile(r"\[([^\[\]\n]*)\]")
_HIGHLIGHT_RE = re.compile(r"\*\*([^\n*]+)\*\*|\*([^\n*]+)\*")
_FENCE_RE = re.compile(r"^```[A-Za-z]*[ \t]*\n?|\n?```$")
CONSTRAINED_ANSWERS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


# --- detectable_format -------------------------------------------------------------------

def json_format(response: str) -> bool:
    """The response (optionally inside one ``` fence) parses as JSON."""
    body = _FENCE_RE.sub("", response.strip()).strip()
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return False
    return True


def _bullets(response: str) -> int:
    count = 0
    for line in response.split("\n"):
        s = line.lstrip()
        if len(s) > 1 and s[0] in "*-" and s[1] in " \t":
            count += 1
    return count


def number_bullet_lists(response: str, *, num_bullets: int) -> bool:
    """Exactly `num_bullets` markdown bullets (`* item` or `- item`)."""
    return _bullets(response) == num_bullets


def number_highlighted_sections(response: str, *, num_highlights: int) -> bool:
    """At least `num_highlights` spans highlighted with `*...*` or `**...**`."""
    found = sum(1 for m in _HIGHLIGHT_RE.finditer(response) if (m.group(1) or m.group(2)).strip())
    return found >= num_highlights


@lru_cache(maxsize=64)
def _section_re(spliter: str) -> re.Pattern:
    return re.compile(rf"^[ \t#*_]*{re.escape(spliter)}[ \t]*\d+", re.IGNORECASE | re.MULTILINE)


def multiple_sections(response: str, *, section_spliter: str, num_sections: int) -> bool:
    """At least `num_sections` lines starting with "<section_spliter> <number>"."""
    return sum(1 for _ in _section_re(section_spliter).finditer(response)) >= num_sections


def title(response: str) -> bool:
    """A title in double angular brackets, <<like this>>, somewhere in the response."""
    return any(m.group(1).strip() for m in _TITLE_RE.finditer(response))


def constrained_response(response: str) -> bool:
    return any(answer in response for answer in CONSTRAINED_ANSWERS)


# --- detectable_content ------------------------------------------------------------------

def number_placeholders(response: str, *, num_placeholders: int) -> bool:
    """At least `num_placeholders` placeholders in square brackets, like [address]."""
    found = sum(1 for m in _PLACEHOLDER_RE.finditer(response) if m.group(1).strip())
    return found >= num_placeholders


@lru_cache(maxsize=64)
def _postscript_re(marker: str) -> re.Pattern:
    # IFEval's two markers tolerate a space after each period: "P. S.", "P. P. S"
    compact = marker.replace(" ", "").upper()
    if compact == "P.S.":
        body = r"p\.\s?s\."
    elif compact in ("P.P.S", "P.P.S."):
        body = r"p\.\s?p\.\s?s"
    else:
        body = re.escape(marker.lower())
    return re.compile(rf"^[ \t*_>]*{body}", re.MULTILINE)


def postscript(response: str, *, postscript_marker: str) -> bool:
    """A line of the response starts with the postscript marker (case-insensitive)."""
    return _postscript_re(postscript_marker).search(response.lower()) is not None


# --- startend, combination -----------------------------------------------------------------

def end_checker(response: str, *, end_phrase: str) -> bool:
    """The response ends with `end_phrase` exactly (case-insensitive; surrounding
    whitespace and a closing double quote ignored, as in IFEval)."""
    return response.strip().strip('"').lower().endswith(end_phrase.lower())


def start_checker(response: str, *, start_phrase: str) -> bool:
    return response.strip().lstrip('"“*#_ ').lower().startswith(start_phrase.lower())


def quotation(response: str) -> bool:
    s = response.strip()
    return len(s) > 1 and ((s[0] == s[-1] == '"') or (s[0] == "“" and s[-1] == "”"))


def two_responses(response: str) -> bool:
    """Two different, non-empty responses separated by six asterisks."""
    parts = response.split("******")
    kept = []
    for i, part in enumerate(parts):
        if part.strip():
            kept.append(part.strip())
        elif 0 < i < len(parts) - 1:
            return False
    return len(kept) == 2 and kept[0] != kept[1]


def repeat_prompt(response: str, *, prompt_to_repeat: str) -> bool:
    return response.strip().lower().startswith(prompt_to_repeat.lower())


def _sample_request(rng):
    return {"prompt_to_repeat": rng.choice((
        "Write a short note to a neighbor about a lost cat.",
        "Describe your favorite season in a few sentences.",
        "Explain how a bicycle works to a child.",
    ))}


CONSTRAINTS = [
    Constraint(
        "detectable_format:json_format", json_format,
        lambda: "Wrap your entire response in JSON format; you may put it inside a markdown "
                "code fence (```).",
    ),
    Constraint(
        "detectable_format:number_bullet_lists", number_bullet_lists,
        lambda num_bullets: (f"Your answer must contain exactly {n_of(num_bullets, 'bullet point')}, "
                             "written as markdown bullets such as:\n* This is point 1.\n* This is point 2"),
        lambda rng: {"num_bullets": rng.randint(1, 6)},
        (Param("num_bullets", "int", minimum=0),)),
    Constraint(
        "detectable_format:number_highlighted_sections", number_highlighted_sections,
        lambda num_highlights: (f"Highlight at least {n_of(num_highlights, 'section')} of your answer with "
                                "markdown, for example *highlighted section*."),
        lambda rng: {"num_highlights": rng.randint(1, 4)},
        (Param("num_highlights", "int", minimum=0),)),
    Constraint(
        "detectable_format:multiple_sections", multiple_sections,
        lambda section_spliter, num_sections: (
            f"Your response must have {n_of(num_sections, 'section')}. Start each section on a new line "
            f"with \"{section_spliter} X\", where X is the section's number, for example:\n"
            f"{section_spliter} 1\n[content of section 1]\n{section_spliter} 2\n[content of section 2]"),
        lambda rng: {"section_spliter": rng.choice(vocab.SECTION_SPLITTERS),
                     "num_sections": rng.randint(2, 5)},
        (Param("section_spliter", "str", required=False, default="Section"),
         Param("num_sections", "int", minimum=1))),
    Constraint(
        "detectable_format:title", title,
        lambda: "Give your answer a title wrapped in double angular brackets, such as <<my title>>.",
    ),
    Constraint(
        "detectable_format:constrained_response", constrained_response,
        lambda: "Answer with one of the following options: (\"My answer is yes.\", "
                "\"My answer is no.\", \"My answer is maybe.\")",
    ),
    Constraint(
        "detectable_content:number_placeholders", number_placeholders,
        lambda num_placeholders: (f"The response must contain at least "
                                  f"{n_of(num_placeholders, 'placeholder')} in square brackets, "
                                  "such as [address]."),
        lambda rng: {"num_placeholders": rng.randint(1, 4)},
        (Param("num_placeholders", "int", minimum=0),)),
    Constraint(
        "detectable_content:postscript", postscript,
        lambda postscript_marker: (f"At the end of your response, add a postscript that starts "
                                   f"with {postscript_marker}"),
        lambda rng: {"postscript_marker": rng.choice(vocab.POSTSCRIPT_MARKERS)},
        (Param("postscript_marker", "str", required=False, default="P.S."),)),
    Constraint(
        "startend:end_checker", end_checker,
        lambda end_phrase: (f"Finish your response with the exact phrase \"{end_phrase}\" and "
                            "write nothing after it."),
        lambda rng: {"end_phrase": rng.choice(vocab.END_PHRASES)},
        (Param("end_phrase", "str"),)),
    Constraint(
        "startend:start_checker", start_checker,
        lambda start_phrase: f"Begin your response with the exact phrase \"{start_phrase}\".",
        lambda rng: {"start_phrase": rng.choice(vocab.START_PHRASES)},
        (Param("start_phrase", "str"),)),
    Constraint(
        "startend:quotation", quotation,
        lambda: "Wrap your entire response in double quotation marks.",
    ),
    Constraint(
        "combination:two_responses", two_responses,
        lambda: "Give two different responses. Separate them with six asterisks (******) and "
                "write nothing else between them.",
    ),
    Constraint(
        "combination:repeat_prompt", repeat_prompt,
        lambda prompt_to_repeat: (
            "First repeat the following request word for word, with nothing before it, then "
            f"give your answer: \"{prompt_to_repeat}\""),
        _sample_request,
        (Param("prompt_to_repeat", "str"),)),
]
