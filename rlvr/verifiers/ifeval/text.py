"""Words, sentences, paragraphs and lines of a response, without downloaded data (no nltk).

IFEval counts words with nltk's `\\w+` tokenizer and sentences with the Punkt model; neither
may be downloaded at run time here, so these are small, documented rules instead:

* **word**: a run of letters and digits, with apostrophes inside (`don't`, `o'clock` are one
  word); a decimal or grouped number (`3.14`, `1,000`) is one word; hyphens split
  (`well-known` is two). Combining marks count as letters, so Devanagari or Thai words are
  not cut at their vowel signs. Scripts written without spaces (Chinese, Japanese, Thai)
  count a whole run of characters as one word — counts there mean little.
* **sentence**: text up to a run of `.`, `!`, `?` or `…` (closing quotes and brackets
  included) that is followed by whitespace or the end, or up to `。`, `！`, `？`; a blank line
  also ends a sentence (headings, list items). A period does not end a sentence after a
  common abbreviation (`Mr.`, `e.g.`, `Dr.` ...), after a single-letter initial (`J. K.`),
  after a list number at the start of a line (`1.`), or inside a number (`3.14`). A segment
  with no word in it is not a sentence.
* **paragraph**: text between blank lines (`paragraphs`), or between `***` separators
  (`star_paragraphs`, IFEval's `length_constraints:number_paragraphs` convention).

Every function is linear in the length of the text: the model's output is untrusted, and a
regular expression with nested quantifiers can take quadratic time on a crafted megabyte.
"""
from __future__ import annotations

import re

# Combining marks of common scripts (Latin diacritics, Hebrew points, Arabic harakat, the
# Indic blocks' vowel signs, Thai vowels), which `\w` does not match.
_MARKS = ("\u0300-\u036f\u0483-\u0489\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7"
          "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e4\u06e7\u06e8\u06ea-\u06ed"
          "\u0900-\u0963\u0966-\u0dff\u0e31\u0e34-\u0e3a\u0e47-\u0e4e\u200c\u200d")
_LETTER = rf"(?:[^\W_]|[{_MARKS}])"
WORD_RE = re.compile(rf"\d+(?:[.,]\d+)+|{_LETTER}+(?:['’]{_LETTER}+)*")
NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")

_TERMINATOR_RE = re.compile(r"[.!?…]+[\"'”’»)\]*_]*|[。！？]+")
# Tokens (lowercased, without the final period) after which a period does not end a
# sentence. "etc." is deliberately absent: it ends sentences as often as not.
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof sr jr st vs e.g i.e cf approx dept fig no vol mt ave "
    "jan feb mar apr jun jul aug sep sept oct nov dec a.m p.m u.s u.k".split())


def words(text: str) -> list[str]:
    """The words of `text`, in order (see the module docstring for what a word is)."""
    return WORD_RE.findall(text)


def count_words(text: str) -> int:
    return sum(1 for _ in WORD_RE.finditer(text))


def numbers(text: str) -> list[str]:
    """Numbers written with digits: `12`, `3.14` and `1,000` are one number each."""
    return NUMBER_RE.findall(text)


def _blocks(text: str) -> list[str]:
    """Runs of non-blank lines, split at blank (whitespace-only) lines."""
    out: list[str] = []
    current: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            current.append(line)
        elif current:
            out.append("\n".join(current))
            current = []
    if current:
        out.append("\n".join(current))
    return out


def paragraphs(text: str) -> list[str]:
    """Non-empty paragraphs separated by blank lines, stripped."""
    return [b.strip() for b in _blocks(text)]


def star_paragraphs(text: str) -> list[str] | None:
    """Paragraphs separated by `***` (IFEval's markdown divider); None when an inner
    paragraph is empty (two dividers in a row), which IFEval counts as a violation.
    Empty text before the first or after the last divider is ignored."""
    parts = re.split(r"\s?\*\*\*\s?", text)
    kept = []
    for i, part in enumerate(parts):
        if part.strip():
            kept.append(part.strip())
        elif 0 < i < len(parts) - 1:
            return None
    return kept


def lines(text: str) -> list[str]:
    """Non-blank lines, as written (leading whitespace kept)."""
    return [line for line in text.split("\n") if line.strip()]


def _is_abbreviation(block: str, start: int) -> bool:
    """Does the single period at `block[start]` belong to the token before it rather than
    end a sentence? Looks back at most 12 characters, so the scan stays linear."""
    j = start
    while j > 0 and start - j < 12 and not block[j - 1].isspace():
        j -= 1
    token = block[j:start].lstrip("(\"'“‘[")
    if not token:
        return False
    if token.lower() in _ABBREVIATIONS:
        return True
    if len(token) == 1 and token.isalpha() and token.isupper():
        return True  # an initial: "J. K. Rowling"
    if token.isdigit():  # "1." opening a numbered list item (bounded look-back again)
        k = j
        while k > 0 and j - k < 8 and block[k - 1] in " \t*-#>":
            k -= 1
        return k == 0 or block[k - 1] == "\n"
    return False


def sentences(text: str) -> list[str]:
    """The sentences of `text`, stripped, in order (see the module docstring)."""
    out: list[str] = []
    for block in _blocks(text):
        begin = 0
        for m in _TERMINATOR_RE.finditer(block):
            end = m.end()
            if m.group()[0] not in "。！？":
                if end < len(block) and not block[end].isspace():
                    continue  # "3.14", "e.g.x", "?!" inside a token
                if m.group() == "." and _is_abbreviation(block, m.start()):
                    continue
            out.append(block[begin:end])
            begin = end
        out.append(block[begin:])
    return [s.strip() for s in out if WORD_RE.search(s)]


def count_sentences(text: str) -> int:
    return len(sentences(text))


# English stop words (function words: articles, pronouns, auxiliaries, prepositions,
# conjunctions, common adverbs), written for this module.
STOP_WORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its itself
just me more most my myself no nor not now of off on once only or other our ours ourselves out
over own same she should so some such than that the their theirs them themselves then there
these they this those through to too under until up very was we were what when where which
while who whom why will with would you your yours yourself yourselves also yet may might must
shall us
""".split())

# English pronouns: personal (subject and object), possessive, reflexive, demonstrative,
# interrogative/relative and indefinite.
PRONOUNS = frozenset("""
i me we us you he him she her it they them
my mine our ours your yours his hers its their theirs
myself ourselves yourself yourselves himself herself itself themselves oneself
this that these those
who whom whose which what whoever whomever whatever whichever
anybody anyone anything everybody everyone everything nobody nothing somebody someone
something none each either neither both all some any several few many one
""".split())

# The coordinating conjunctions of English ("FANBOYS").
CONJUNCTIONS = ("for", "and", "nor", "but", "or", "yet", "so")
