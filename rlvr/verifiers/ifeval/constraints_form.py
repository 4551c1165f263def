"""Sentence and format constraints of the IFBench kind (`sentence:`, `format:`).

IFBench's ids keep IFBench's names and arguments (Pyatkin et al., NeurIPS 2025; allenai/IFBench):
`sentence:keyword` (`word`, `N`), `sentence:increment` (`small_n`), `format:no_whitespace`,
`format:newline`, `format:sub-bullets`, `format:line_indent`, `format:parentheses`. New here:
`sentence:keyword_per_sentence`, `sentence:max_words`, `format:no_whitespace_lines`,
`format:emoji_count`. Shapes that an empty or one-line answer would satisfy trivially
(stairs, increments) need at least two lines or sentences.
"""
from __future__ import annotations

import re

from rlvr.verifiers.ifeval import text, vocab
from rlvr.verifiers.ifeval.constraints_words import phrase_re
from rlvr.verifiers.ifeval.spec import RELATIONS, Constraint, Param, compare, n_of

# Emoji: the pictographic blocks (emoticons, symbols and pictographs, transport, supplemental
# and extended-A) plus miscellaneous symbols and dingbats; skin-tone modifiers, joiners and
# variation selectors are not counted, flags (regional-indicator pairs) are not emoji here.
_EMOJI_RE = re.compile("[\U0001F300-\U0001F5FF\U0001F600-\U0001F64F\U0001F680-\U0001F6FF"
                       "\U0001F900-\U0001F9FF\U0001FA70-\U0001FAFF\u2600-\u27BF]")
_SKIN_TONE_RE = re.compile("[\U0001F3FB-\U0001F3FF]")
_BRACKET_RE = re.compile(r"[()\[\]{}]")
_PAIRS = {")": "(", "]": "[", "}": "{"}
NESTING_DEPTH = 5


def count_emoji(response: str) -> int:
    def count(p: re.Pattern) -> int:
        return len(response) - len(p.sub("", response))
    return count(_EMOJI_RE) - count(_SKIN_TONE_RE)


# --- sentence ------------------------------------------------------------------------------

def keyword_in_sentence(response: str, *, word: str, N: int) -> bool:
    """The N-th sentence (1-based) contains `word`."""
    sents = text.sentences(response)
    return len(sents) >= N and phrase_re(word).search(sents[N - 1]) is not None


def keyword_per_sentence(response: str, *, keyword: str) -> bool:
    sents = text.sentences(response)
    pattern = phrase_re(keyword)
    return bool(sents) and all(pattern.search(s) for s in sents)


def increment(response: str, *, small_n: int) -> bool:
    """Each sentence has exactly `small_n` more words than the one before; two or more."""
    counts = [text.count_words(s) for s in text.sentences(response)]
    return len(counts) >= 2 and all(b - a == small_n for a, b in zip(counts, counts[1:]))


def max_words(response: str, *, N: int) -> bool:
    """No sentence is longer than N words; at least one sentence."""
    counts = [text.count_words(s) for s in text.sentences(response)]
    return bool(counts) and max(counts) <= N


# --- format --------------------------------------------------------------------------------

def no_whitespace(response: str) -> bool:
    return bool(response) and not any(c.isspace() for c in response)


def no_whitespace_lines(response: str) -> bool:
    """No blank or whitespace-only line inside the (stripped) response."""
    body = response.strip()
    return bool(body) and all(line.strip() for line in body.split("\n"))


def emoji_count(response: str, *, N: int, relation: str) -> bool:
    return compare(count_emoji(response), relation, N)


def newline(response: str) -> bool:
    """Every non-blank line holds exactly one word; at least two words."""
    per_line = [text.count_words(line) for line in text.lines(response)]
    return len(per_line) >= 2 and all(n == 1 for n in per_line)


def sub_bullets(response: str) -> bool:
    """At least one `*` bullet, and every `*` bullet is followed, before the next one, by at
    least one `-` sub-bullet."""
    bullets = subs = 0
    for line in response.split("\n"):
        s = line.lstrip()
        if s[:2] in ("* ", "*\t"):
            if bullets and not subs:
                return False
            bullets, subs = bullets + 1, 0
        elif s[:2] in ("- ", "-\t") and bullets:
            subs += 1
    return bullets > 0 and subs > 0


def line_indent(response: str) -> bool:
    """Stairs: each non-blank line is indented further than the one before (a tab counts
    as four spaces); at least two lines."""
    depths = []
    for line in text.lines(response):
        expanded = line.expandtabs(4)
        depths.append(len(expanded) - len(expanded.lstrip(" ")))
    return len(depths) >= 2 and all(b > a for a, b in zip(depths, depths[1:]))


def parentheses(response: str) -> bool:
    """A correctly closed group of brackets — (), [] or {} — nested at least 5 deep."""
    stack: list[list] = []  # [opening bracket, depth of the deepest group closed inside it]
    for m in _BRACKET_RE.finditer(response):
        c = m.group()
        if c in "([{":
            stack.append([c, 0])
        elif stack and stack[-1][0] == _PAIRS[c]:
            depth = stack.pop()[1] + 1
            if depth >= NESTING_DEPTH:
                return True
            if stack:
                stack[-1][1] = max(stack[-1][1], depth)
        else:
            stack.clear()  # a mismatched closer: nothing open so far can close correctly
    return False


def _sample_emoji(rng):
    relation = rng.choice(RELATIONS)
    return {"N": rng.randint(2, 6) if relation == "less than" else rng.randint(1, 5),
            "relation": relation}


CONSTRAINTS = [
    Constraint(
        "sentence:keyword", keyword_in_sentence,
        lambda word, N: f"Sentence number {N} of your response must contain the word \"{word}\".",
        lambda rng: {"word": rng.choice(vocab.KEYWORDS), "N": rng.randint(1, 4)},
        (Param("word", "str"), Param("N", "int", minimum=1))),
    Constraint(
        "sentence:keyword_per_sentence", keyword_per_sentence,
        lambda keyword: f"Every sentence of your response must contain the word \"{keyword}\".",
        lambda rng: {"keyword": rng.choice(vocab.KEYWORDS)},
        (Param("keyword", "str"),)),
    Constraint(
        "sentence:increment", increment,
        lambda small_n: (f"Write at least two sentences, each with exactly {n_of(small_n, 'more word')} "
                         "than the sentence before it."),
        lambda rng: {"small_n": rng.randint(1, 3)},
        (Param("small_n", "int", minimum=0),)),
    Constraint(
        "sentence:max_words", max_words,
        lambda N: f"No sentence of your response may be longer than {n_of(N, 'word')}.",
        lambda rng: {"N": rng.randint(8, 20)},
        (Param("N", "int", minimum=1),)),
    Constraint(
        "format:no_whitespace", no_whitespace,
        lambda: "Do not use any whitespace at all: no spaces, tabs or line breaks.",
    ),
    Constraint(
        "format:no_whitespace_lines", no_whitespace_lines,
        lambda: "Do not leave any blank lines in your response.",
    ),
    Constraint(
        "format:emoji_count", emoji_count,
        lambda N, relation: f"Use {relation} {n_of(N, 'emoji')} in your response.",
        _sample_emoji,
        (Param("N", "int", minimum=0), Param("relation", "relation"))),
    Constraint(
        "format:newline", newline,
        lambda: "Write each word on a new line.",
    ),
    Constraint(
        "format:sub-bullets", sub_bullets,
        lambda: "Use bullet points starting with * and give every bullet point at least one "
                "sub-bullet starting with -.",
    ),
    Constraint(
        "format:line_indent", line_indent,
        lambda: "Build stairs: indent each new line by more spaces than the line before it.",
    ),
    Constraint(
        "format:parentheses", parentheses,
        lambda: "Nest brackets at least 5 levels deep somewhere in your response, like "
                "( [ { ( [ ] ) } ] ), and close every one of them correctly.",
    ),
]
