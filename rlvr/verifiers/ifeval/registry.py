"""All constraints by id, and which ones must not be asked for together.

The conflict table plays the role of IFEval's `INSTRUCTION_CONFLICTS` and IFBench's
conflict dictionary (ALGORITHMS.md §14): a procedural prompt never combines instructions
that contradict each other (all lowercase and all capitals), fight over the same place
(an end phrase and a postscript both want the last line) or the same count (two word-count
limits whose ranges may not overlap).
"""
from __future__ import annotations

from itertools import combinations

from rlvr.verifiers.ifeval import constraints_count, constraints_form, constraints_layout, constraints_words
from rlvr.verifiers.ifeval.spec import Constraint

CONSTRAINTS: dict[str, Constraint] = {}
for _module in (constraints_words, constraints_layout, constraints_count, constraints_form):
    for _c in _module.CONSTRAINTS:
        assert _c.id not in CONSTRAINTS, f"duplicate constraint id {_c.id}"
        CONSTRAINTS[_c.id] = _c


def get_constraint(cid: str) -> Constraint:
    if not isinstance(cid, str) or cid not in CONSTRAINTS:
        raise ValueError(f"unknown instruction id {cid!r}; known ids: {', '.join(sorted(CONSTRAINTS))}")
    return CONSTRAINTS[cid]


# Take the whole response's shape; combined with anything they would be contradicted.
ALONE = {
    "detectable_format:json_format", "detectable_format:constrained_response",
    "format:no_whitespace", "format:newline", "words:alphabet", "words:prime_lengths",
}

# At most one constraint of each family.
FAMILIES = [
    {"change_case:english_lowercase", "change_case:english_capital",
     "change_case:capital_word_frequency", "language:response_language"},
    {"length_constraints:number_words", "count:word_count_range", "count:unique_word_count",
     "words:repeats"},
    {"length_constraints:number_sentences", "sentence:increment", "ratio:sentence_type",
     "ratio:sentence_balance", "words:last_first", "sentence:keyword", "sentence:max_words"},
    {"length_constraints:number_paragraphs", "length_constraints:nth_paragraph_first_word",
     "words:paragraph_last_first", "combination:two_responses", "format:line_indent"},
    {"combination:repeat_prompt", "startend:start_checker", "startend:quotation"},
    {"startend:end_checker", "detectable_content:postscript", "startend:quotation"},
    {"detectable_format:number_bullet_lists", "format:sub-bullets", "format:line_indent"},
]

# Instructions that only an English (or Latin-script) response can follow: English keywords,
# function words, a phrase to repeat or end with, Latin letters to count. They exclude
# `language:response_language`.
ENGLISH_ONLY = {
    "keywords:letter_frequency", "words:alphabet",
    "keywords:existence", "keywords:frequency", "sentence:keyword", "sentence:keyword_per_sentence",
    "length_constraints:nth_paragraph_first_word", "startend:start_checker",
    "startend:end_checker", "combination:repeat_prompt", "count:pronouns", "count:conjunctions",
    "ratio:stop_words", "words:palindrome", "words:start_with_letter",
    "count:distinct_words_with_letter",
}

PAIRS = [
    ("words:repeats", "keywords:frequency"),
    ("words:repeats", "sentence:keyword_per_sentence"),
    ("count:numbers", "detectable_format:multiple_sections"),
    ("format:no_whitespace_lines", "length_constraints:nth_paragraph_first_word"),
    ("format:line_indent", "detectable_format:multiple_sections"),
]


def _table() -> dict[str, set[str]]:
    table: dict[str, set[str]] = {cid: {cid} for cid in CONSTRAINTS}
    groups = [set(f) for f in FAMILIES] + [set(p) for p in PAIRS]
    groups += [{"language:response_language", e} for e in ENGLISH_ONLY]
    for group in groups:
        assert group <= set(CONSTRAINTS), f"conflict table names unknown ids: {group - set(CONSTRAINTS)}"
        for a, b in combinations(sorted(group), 2):
            table[a].add(b)
            table[b].add(a)
    for a in ALONE:
        for b in CONSTRAINTS:
            table[a].add(b)
            table[b].add(a)
    return table


CONFLICTS = _table()
"""`CONFLICTS[a]`: the ids that must not appear in one prompt with `a` (including `a`)."""


def compatible(a: str, b: str) -> bool:
    return b not in CONFLICTS[a]
