"""IFEval's constraints on length, keywords, letter case, punctuation and language.

Ids and argument names are IFEval's (Zhou et al. 2023, arXiv 2311.07911; google-research
`instruction_following_eval/instructions_registry.py`). Counting uses `text.py` instead of
nltk. Deliberate differences from IFEval, all documented in docs/verifiers/ifeval.md:
keywords match as whole words or phrases (IFEval matches substrings, so "cat" counted in
"category"); `english_lowercase`/`english_capital` accept text whose language is
undetermined (too short) as IFEval does when langdetect fails.
"""
from __future__ import annotations

import re
from functools import lru_cache

from rlvr.verifiers.ifeval import text, vocab
from rlvr.verifiers.ifeval.language import LANGUAGES, detect
from rlvr.verifiers.ifeval.spec import RELATIONS, Constraint, Param, compare, n_of


@lru_cache(maxsize=1024)
def phrase_re(phrase: str) -> re.Pattern:
    """A word or phrase, case-insensitive, not glued to letters or digits on either side."""
    body = r"\s+".join(re.escape(part) for part in phrase.split())
    return re.compile(rf"(?<![^\W_]){body}(?![^\W_])", re.IGNORECASE)


def count_phrase(response: str, phrase: str) -> int:
    return sum(1 for _ in phrase_re(phrase).finditer(response))


def _relation_params(count_name: str, relation_name: str = "relation") -> tuple[Param, Param]:
    return Param(count_name, "int", minimum=0), Param(relation_name, "relation")


# --- length_constraints ------------------------------------------------------------------

def number_words(response: str, *, num_words: int, relation: str) -> bool:
    return compare(text.count_words(response), relation, num_words)


def number_sentences(response: str, *, num_sentences: int, relation: str) -> bool:
    return compare(text.count_sentences(response), relation, num_sentences)


def number_paragraphs(response: str, *, num_paragraphs: int) -> bool:
    """Exactly `num_paragraphs` paragraphs separated by `***`, none of them empty."""
    paras = text.star_paragraphs(response)
    return paras is not None and len(paras) == num_paragraphs


def _first_word(paragraph: str) -> str:
    """The first word, lowercased, without leading quotes or markdown and cut at the first
    punctuation mark (IFEval's convention: `"Today,` gives `today`)."""
    token = paragraph.split()[0].lstrip("\"'“‘*_#>")
    return re.split(r"[.,?!'\"’”:;]", token, maxsplit=1)[0].lower()


def nth_paragraph_first_word(response: str, *, num_paragraphs: int, nth_paragraph: int,
                             first_word: str) -> bool:
    """Exactly `num_paragraphs` paragraphs separated by blank lines, and paragraph
    `nth_paragraph` (1-based) starts with `first_word`."""
    paras = text.paragraphs(response)
    if len(paras) != num_paragraphs or nth_paragraph > len(paras):
        return False
    return _first_word(paras[nth_paragraph - 1]) == first_word.lower()


def _nth_valid(num_paragraphs: int, nth_paragraph: int, first_word: str) -> str | None:
    if nth_paragraph > num_paragraphs:
        return f"argument 'nth_paragraph' ({nth_paragraph}) exceeds 'num_paragraphs' ({num_paragraphs})"
    return None


def _sample_nth(rng):
    n = rng.randint(2, 5)
    return {"num_paragraphs": n, "nth_paragraph": rng.randint(1, n),
            "first_word": rng.choice(vocab.FIRST_WORDS)}


# --- keywords ----------------------------------------------------------------------------

def existence(response: str, *, keywords: list[str]) -> bool:
    return all(phrase_re(k).search(response) for k in keywords)


def frequency(response: str, *, keyword: str, frequency: int, relation: str) -> bool:
    return compare(count_phrase(response, keyword), relation, frequency)


def forbidden_words(response: str, *, forbidden_words: list[str]) -> bool:
    return not any(phrase_re(w).search(response) for w in forbidden_words)


def letter_frequency(response: str, *, letter: str, let_frequency: int, let_relation: str) -> bool:
    return compare(response.lower().count(letter), let_relation, let_frequency)


def _quoted(items: list[str]) -> str:
    return ", ".join(f'"{w}"' for w in items)


def _sample_letter(rng):
    if rng.random() < 0.5:
        return {"letter": rng.choice(vocab.COMMON_LETTERS), "let_frequency": rng.randint(5, 30),
                "let_relation": "at least"}
    return {"letter": rng.choice(vocab.RARE_LETTERS), "let_frequency": rng.randint(2, 6),
            "let_relation": "less than"}


# --- change_case, punctuation, language ----------------------------------------------------

def _english_or_unknown(response: str) -> bool:
    return detect(response.lower()) in ("en", None)


def english_lowercase(response: str) -> bool:
    return response.islower() and _english_or_unknown(response)


def english_capital(response: str) -> bool:
    return response.isupper() and _english_or_unknown(response)


def capital_word_frequency(response: str, *, capital_frequency: int, capital_relation: str) -> bool:
    capitals = sum(1 for w in text.words(response) if w.isupper())
    return compare(capitals, capital_relation, capital_frequency)


def no_comma(response: str) -> bool:
    return "," not in response and "，" not in response


# Drawn by the sampler: languages written with spaces between words, so that word and
# sentence counts of other instructions keep their meaning (not ja, zh, th).
SAMPLED_LANGUAGES = tuple(sorted(set(LANGUAGES) - {"ja", "zh", "th"}))


def response_language(response: str, *, language: str) -> bool:
    return detect(response) == language


def _relation_sample(rng, name: str, less: tuple[int, int], least: tuple[int, int],
                     relation_name: str = "relation") -> dict:
    relation = rng.choice(RELATIONS)
    lo, hi = less if relation == "less than" else least
    return {name: rng.randint(lo, hi), relation_name: relation}


CONSTRAINTS = [
    Constraint(
        "length_constraints:number_words", number_words,
        lambda num_words, relation: f"Your response should be {relation} {n_of(num_words, 'word')} long.",
        lambda rng: _relation_sample(rng, "num_words", (40, 300), (20, 300)),
        _relation_params("num_words")),
    Constraint(
        "length_constraints:number_sentences", number_sentences,
        lambda num_sentences, relation: f"Write {relation} {n_of(num_sentences, 'sentence')}.",
        lambda rng: _relation_sample(rng, "num_sentences", (2, 10), (1, 10)),
        _relation_params("num_sentences")),
    Constraint(
        "length_constraints:number_paragraphs", number_paragraphs,
        lambda num_paragraphs: (f"Write exactly {n_of(num_paragraphs, 'paragraph')} and separate them "
                                "with the markdown divider *** on its own line."),
        lambda rng: {"num_paragraphs": rng.randint(2, 5)},
        (Param("num_paragraphs", "int", minimum=1),)),
    Constraint(
        "length_constraints:nth_paragraph_first_word", nth_paragraph_first_word,
        lambda num_paragraphs, nth_paragraph, first_word: (
            f"Write exactly {n_of(num_paragraphs, 'paragraph')}, separated from each other by one blank "
            f"line (two newlines) and by nothing else. Paragraph number {nth_paragraph} must "
            f"begin with the word \"{first_word}\"."),
        _sample_nth,
        (Param("num_paragraphs", "int", minimum=1), Param("nth_paragraph", "int", minimum=1),
         Param("first_word", "str")),
        validate=_nth_valid),
    Constraint(
        "keywords:existence", existence,
        lambda keywords: f"Use each of these keywords in your response: {_quoted(keywords)}.",
        lambda rng: {"keywords": rng.sample(vocab.KEYWORDS, rng.randint(1, 3))},
        (Param("keywords", "words"),)),
    Constraint(
        "keywords:frequency", frequency,
        lambda keyword, frequency, relation: (
            f"The word \"{keyword}\" should appear {relation} {n_of(frequency, 'time')} in your response."),
        lambda rng: {"keyword": rng.choice(vocab.KEYWORDS),
                     **_relation_sample(rng, "frequency", (2, 4), (1, 4))},
        (Param("keyword", "str"), *_relation_params("frequency"))),
    Constraint(
        "keywords:forbidden_words", forbidden_words,
        lambda forbidden_words: f"Do not use any of these words: {_quoted(forbidden_words)}.",
        lambda rng: {"forbidden_words": rng.sample(vocab.FORBIDDEN, rng.randint(1, 3))},
        (Param("forbidden_words", "words"),)),
    Constraint(
        "keywords:letter_frequency", letter_frequency,
        lambda letter, let_frequency, let_relation: (
            f"The letter \"{letter}\" should appear {let_relation} {n_of(let_frequency, 'time')} in your "
            "response (upper or lower case)."),
        _sample_letter,
        (Param("letter", "letter"), *_relation_params("let_frequency", "let_relation"))),
    Constraint(
        "change_case:english_lowercase", english_lowercase,
        lambda: "Write your whole response in English using only lowercase letters; no capital "
                "letters at all.",
    ),
    Constraint(
        "change_case:english_capital", english_capital,
        lambda: "Write your whole response in English using only capital letters.",
    ),
    Constraint(
        "change_case:capital_word_frequency", capital_word_frequency,
        lambda capital_frequency, capital_relation: (
            f"Words written entirely in capital letters should appear {capital_relation} "
            f"{n_of(capital_frequency, 'time')} in your response."),
        lambda rng: _relation_sample(rng, "capital_frequency", (5, 20), (2, 10), "capital_relation"),
        _relation_params("capital_frequency", "capital_relation")),
    Constraint(
        "punctuation:no_comma", no_comma,
        lambda: "Do not use a single comma anywhere in your response.",
    ),
    Constraint(
        "language:response_language", response_language,
        lambda language: f"Write your entire response in {LANGUAGES[language]}; use no other language.",
        lambda rng: {"language": rng.choice(SAMPLED_LANGUAGES)},
        (Param("language", "str", choices=tuple(LANGUAGES)),)),
]
