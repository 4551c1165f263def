"""Count, ratio and word-shape constraints of the IFBench kind (`count:`, `ratio:`, `words:`).

Ids that IFBench defines (Pyatkin et al., "Generalizing Verifiable Instruction Following",
NeurIPS 2025; allenai/IFBench `instructions_registry.py`) keep its id and argument names
(`N`, `small_n`, `min_words`, `max_words`, `percentage`); `count:distinct_words_with_letter`
and `words:start_with_letter` are new here. Words come from `text.words` and are compared
lowercased. Differences from IFBench, documented in docs/verifiers/ifeval.md: palindromes
must be distinct; the 2:1 and balanced sentence ratios need at least one sentence of each
kind; the one-word-per-... shapes need at least two words, so an empty answer never passes.
"""
from __future__ import annotations

from collections import Counter

from rlvr.verifiers.ifeval import text, vocab
from rlvr.verifiers.ifeval.spec import Constraint, Param, n_of

_PRIMES = frozenset(p for p in range(2, 200) if all(p % d for d in range(2, int(p ** 0.5) + 1)))
_CLOSERS = "\"'”’)]*_ "


def _lower_words(response: str) -> list[str]:
    return [w.lower() for w in text.words(response)]


# --- count ---------------------------------------------------------------------------------

def word_count_range(response: str, *, min_words: int, max_words: int) -> bool:
    return min_words <= text.count_words(response) <= max_words


def unique_word_count(response: str, *, N: int) -> bool:
    return len(set(_lower_words(response))) >= N


def distinct_words_with_letter(response: str, *, letter: str, N: int) -> bool:
    """Exactly N distinct words (case-insensitive) contain `letter`."""
    return len({w for w in _lower_words(response) if letter in w}) == N


def numbers(response: str, *, N: int) -> bool:
    """Exactly N numbers written in digits (`3.14` and `1,000` are one number each)."""
    return len(text.numbers(response)) == N


def pronouns(response: str, *, N: int) -> bool:
    return sum(1 for w in _lower_words(response) if w in text.PRONOUNS) >= N


def conjunctions(response: str, *, small_n: int) -> bool:
    """At least `small_n` different coordinating conjunctions (for, and, nor, but, or, yet, so)."""
    return len(set(_lower_words(response)) & set(text.CONJUNCTIONS)) >= small_n


# --- ratio ---------------------------------------------------------------------------------

def stop_words(response: str, *, percentage: float) -> bool:
    """Stop words are at most `percentage` percent of the words (no words: not followed)."""
    ws = _lower_words(response)
    return bool(ws) and 100 * sum(1 for w in ws if w in text.STOP_WORDS) <= percentage * len(ws)


def _ends(response: str) -> Counter:
    """How many sentences end with '.', '?' and '!' (closing quotes ignored)."""
    return Counter(s.rstrip(_CLOSERS)[-1:] for s in text.sentences(response))


def sentence_type(response: str) -> bool:
    """Twice as many declarative ('.') as interrogative ('?') sentences, at least one '?'."""
    ends = _ends(response)
    return ends["?"] >= 1 and ends["."] == 2 * ends["?"]


def sentence_balance(response: str) -> bool:
    """As many sentences end with '.' as with '?' and with '!', at least one of each."""
    ends = _ends(response)
    return ends["."] >= 1 and ends["."] == ends["?"] == ends["!"]


# --- words ---------------------------------------------------------------------------------

def start_with_letter(response: str, *, letter: str, N: int) -> bool:
    return sum(1 for w in _lower_words(response) if w.startswith(letter)) >= N


def repeats(response: str, *, small_n: int) -> bool:
    """No word appears more than `small_n` times (an empty response is not followed)."""
    counts = Counter(_lower_words(response))
    return bool(counts) and max(counts.values()) <= small_n


def palindrome(response: str) -> bool:
    """At least 10 distinct palindromic words of 5 letters or more."""
    return len({w for w in _lower_words(response) if len(w) >= 5 and w == w[::-1]}) >= 10


def _letters(word: str) -> int:
    return sum(1 for c in word if c.isalnum())


def prime_lengths(response: str) -> bool:
    """Every word has a prime number of letters (apostrophes and number separators aside)."""
    ws = text.words(response)
    return bool(ws) and all(_letters(w) in _PRIMES for w in ws)


def no_consecutive(response: str) -> bool:
    """No two neighbouring words share their first letter; at least two words."""
    ws = _lower_words(response)
    return len(ws) >= 2 and all(a[0] != b[0] for a, b in zip(ws, ws[1:]))


def alphabet(response: str) -> bool:
    """Each word starts with the letter after the previous word's first letter (a-z,
    wrapping from z to a); at least two words."""
    ws = _lower_words(response)
    if len(ws) < 2 or not all("a" <= w[0] <= "z" for w in ws):
        return False
    return all((ord(b[0]) - ord(a[0])) % 26 == 1 for a, b in zip(ws, ws[1:]))


def last_first(response: str) -> bool:
    """The last word of each sentence is the first word of the next; two sentences or more."""
    sents = [_lower_words(s) for s in text.sentences(response)]
    return len(sents) >= 2 and all(a and b and a[-1] == b[0] for a, b in zip(sents, sents[1:]))


def paragraph_last_first(response: str) -> bool:
    """Every paragraph (non-blank line) ends with the word it starts with and has two words
    or more."""
    paras = [_lower_words(line) for line in text.lines(response)]
    paras = [p for p in paras if p]
    return bool(paras) and all(len(p) >= 2 and p[0] == p[-1] for p in paras)


def _range_valid(min_words: int, max_words: int) -> str | None:
    return None if min_words <= max_words else \
        f"argument 'min_words' ({min_words}) exceeds 'max_words' ({max_words})"


def _sample_range(rng):
    lo = rng.randint(30, 200)
    return {"min_words": lo, "max_words": lo + rng.randint(10, 60)}


_N = Param("N", "int", minimum=0)
_SMALL_N = Param("small_n", "int", minimum=1)

CONSTRAINTS = [
    Constraint(
        "count:word_count_range", word_count_range,
        lambda min_words, max_words: (f"Your response must be between {min_words} and "
                                      f"{n_of(max_words, 'word')} long."),
        _sample_range,
        (Param("min_words", "int", minimum=0), Param("max_words", "int", minimum=0)),
        validate=_range_valid),
    Constraint(
        "count:unique_word_count", unique_word_count,
        lambda N: f"Use at least {n_of(N, 'different word')} in your response.",
        lambda rng: {"N": rng.randint(20, 120)},
        (_N,)),
    Constraint(
        "count:distinct_words_with_letter", distinct_words_with_letter,
        lambda letter, N: (f"Use exactly {n_of(N, 'distinct word')} that contain the letter \"{letter}\" "
                           "(each may appear more than once); no other word may contain it."),
        lambda rng: {"letter": rng.choice(vocab.RARE_LETTERS), "N": rng.randint(1, 4)},
        (Param("letter", "letter"), _N)),
    Constraint(
        "count:numbers", numbers,
        lambda N: f"Include exactly {n_of(N, 'number')} written in digits in your response.",
        lambda rng: {"N": rng.randint(1, 6)},
        (_N,)),
    Constraint(
        "count:pronouns", pronouns,
        lambda N: f"Use at least {n_of(N, 'pronoun')} in your response.",
        lambda rng: {"N": rng.randint(3, 15)},
        (_N,)),
    Constraint(
        "count:conjunctions", conjunctions,
        lambda small_n: (f"Use at least {n_of(small_n, 'different coordinating conjunction')} (for, and, "
                         "nor, but, or, yet, so) in your response."),
        lambda rng: {"small_n": rng.randint(2, 5)},
        (Param("small_n", "int", minimum=0, maximum=len(text.CONJUNCTIONS)),)),
    Constraint(
        "ratio:stop_words", stop_words,
        lambda percentage: (f"Stop words (such as the, and, of, to) must make up no more than "
                            f"{percentage:g}% of the words of your response."),
        lambda rng: {"percentage": rng.randint(35, 60)},
        (Param("percentage", "number", minimum=0, maximum=100),)),
    Constraint(
        "ratio:sentence_type", sentence_type,
        lambda: "Write twice as many statements (ending with a period) as questions (ending with "
                "a question mark), and at least one question.",
    ),
    Constraint(
        "ratio:sentence_balance", sentence_balance,
        lambda: "Write as many statements (ending with '.') as questions (ending with '?') and as "
                "exclamations (ending with '!'), at least one of each.",
    ),
    Constraint(
        "words:start_with_letter", start_with_letter,
        lambda letter, N: f"Use at least {n_of(N, 'word')} that start with the letter \"{letter}\".",
        lambda rng: {"letter": rng.choice("bcdfghlmnprstw"), "N": rng.randint(2, 8)},
        (Param("letter", "letter"), _N)),
    Constraint(
        "words:repeats", repeats,
        lambda small_n: f"Do not use any word more than {n_of(small_n, 'time')}.",
        lambda rng: {"small_n": rng.randint(2, 5)},
        (_SMALL_N,)),
    Constraint(
        "words:palindrome", palindrome,
        lambda: "Include at least 10 different palindromic words, each at least 5 letters long "
                "(such as \"level\" or \"radar\").",
    ),
    Constraint(
        "words:prime_lengths", prime_lengths,
        lambda: "Use only words whose number of letters is a prime number (2, 3, 5, 7, 11, ...).",
    ),
    Constraint(
        "words:no_consecutive", no_consecutive,
        lambda: "No two consecutive words may start with the same letter.",
    ),
    Constraint(
        "words:alphabet", alphabet,
        lambda: "Each word must start with the letter that follows the first letter of the "
                "previous word in the alphabet, going back to 'a' after 'z'.",
    ),
    Constraint(
        "words:last_first", last_first,
        lambda: "The last word of each sentence must be the first word of the next sentence.",
    ),
    Constraint(
        "words:paragraph_last_first", paragraph_last_first,
        lambda: "Each paragraph must end with the same word it starts with; put each paragraph "
                "on its own line.",
    ),
]
