"""Procedural programming problems with stdin/stdout tests, for the `code` verifier.

Seventeen templates of small problems (sums, order statistics, string transforms, FizzBuzz
variants, recurrences, base conversion...), each with random parameters in its statement and
random test inputs; the expected outputs come from a reference solver here, never from
running model code. Item i depends only on (seed, i), so a run can resume at any position.
Every distinct statement belongs to exactly one split, chosen by a stable hash of its text
(as `arithmetic.py` does with expressions): no eval statement is ever trained on.
"""
from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from functools import partial
from typing import Callable

from rlvr.types import Sample

WORDS = ["apple", "river", "stone", "level", "tiger", "noon", "cloud", "radar", "maple", "sun",
         "moon", "kayak", "bread", "lamp", "civic", "pixel", "ocean", "tree", "refer", "zebra"]
FIZZ = ["Fizz", "Buzz", "Foo", "Bar", "Ping", "Pong", "Tick", "Tock"]
YES_NO = [("YES", "NO"), ("yes", "no"), ("True", "False"), ("1", "0"), ("Y", "N")]
ORDINAL = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th"}
INTS = "The first line of the input holds an integer n; the second line holds n integers separated by spaces."

Solver = Callable[[str], str]
InputGen = Callable[[random.Random], str]


@dataclass(frozen=True)
class CodeProblem:
    template: str
    statement: str
    params: dict
    tests: tuple[tuple[str, str], ...]
    """(stdin, expected stdout) pairs."""


# --- inputs -------------------------------------------------------------------------------

def ints_input(rng: random.Random, *, lo: int = -50, hi: int = 50, min_n: int = 1, max_n: int = 8) -> str:
    xs = [rng.randint(lo, hi) for _ in range(rng.randint(min_n, max_n))]
    return f"{len(xs)}\n{' '.join(map(str, xs))}\n"


def read_ints(inp: str) -> list[int]:
    first, *rest = inp.split("\n", 1)
    return [int(t) for t in (rest[0] if rest else "").split()][: int(first)]


def line_input(rng: random.Random, *, mixed_case: bool = False) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randint(1, 6))]
    if mixed_case:
        words = [w.capitalize() if rng.random() < 0.5 else w for w in words]
    return " ".join(words) + "\n"


def int_input(rng: random.Random, lo: int, hi: int) -> str:
    return f"{rng.randint(lo, hi)}\n"


def lines(values) -> str:
    return "".join(f"{v}\n" for v in values)


# --- reference solvers: (parameters, input text) -> expected output ------------------------

def solve_sum_divisible(k: int, inp: str) -> str:
    return f"{sum(x for x in read_ints(inp) if x % k == 0)}\n"


def solve_kth(k: int, largest: bool, inp: str) -> str:
    return f"{sorted(read_ints(inp), reverse=largest)[k - 1]}\n"


def solve_filter_sorted(t: int, descending: bool, inp: str) -> str:
    kept = sorted((x for x in read_ints(inp) if x > t), reverse=descending)
    return (" ".join(map(str, kept)) if kept else "NONE") + "\n"


def solve_text(kind: str, case: str, inp: str) -> str:
    text = inp.rstrip("\n")
    out = {"reverse": text[::-1], "words_reversed": " ".join(w[::-1] for w in text.split(" ")),
           "word_order": " ".join(text.split(" ")[::-1])}[kind]
    return {"upper": out.upper(), "lower": out.lower(), "": out}[case] + "\n"


def solve_count_chars(chars: str, inp: str) -> str:
    return f"{sum(c in chars for c in inp.rstrip(chr(10)))}\n"


def solve_fizzbuzz(a: int, b: int, wa: str, wb: str, inp: str) -> str:
    out = []
    for i in range(1, int(inp) + 1):
        out.append(wa + wb if i % a == 0 and i % b == 0 else wa if i % a == 0 else wb if i % b == 0 else str(i))
    return lines(out)


def solve_digit_sum(base: int, power: int, inp: str) -> str:
    n, total = int(inp), 0
    while n:
        n, d = divmod(n, base)
        total += d ** power
    return f"{total}\n"


def solve_gcd_lcm(fn: str, mod: int, inp: str) -> str:
    a, b = map(int, inp.split())
    value = math.gcd(a, b) if fn == "gcd" else a * b // math.gcd(a, b)
    return f"{value % mod if mod else value}\n"


def solve_recurrence(x: int, y: int, m: int, inp: str) -> str:
    n = int(inp)
    a, b = x, y
    for _ in range(n - 1):
        a, b = b, a + b
    return f"{a % m}\n"


def is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, math.isqrt(n) + 1))


def solve_primes(kind: str, none_word: str, inp: str) -> str:
    primes = [x for x in read_ints(inp) if is_prime(x)]
    if kind == "count":
        return f"{len(primes)}\n"
    return (" ".join(map(str, primes)) if primes else none_word) + "\n"


def solve_caesar(shift: int, inp: str) -> str:
    return "".join(chr((ord(c) - 97 + shift) % 26 + 97) if c.isalpha() else c for c in inp.rstrip("\n")) + "\n"


def solve_running(op: str, inp: str) -> str:
    out, acc = [], None
    for x in read_ints(inp):
        if acc is None:
            acc = x % 1000 if op == "product" else x
        else:
            acc = {"sum": acc + x, "max": max(acc, x), "min": min(acc, x), "product": acc * x % 1000}[op]
        out.append(acc)
    return " ".join(map(str, out)) + "\n"


def solve_words(kind: str, k: int, inp: str) -> str:
    words = inp.split()
    if kind == "longer":
        return f"{sum(len(w) > k for w in words)}\n"
    if kind == "longest":
        return max(words, key=len) + "\n"  # max keeps the first of equally long words
    return f"{len(set(words))}\n"


def solve_triangle(char: str, right: bool, upside_down: bool, inp: str) -> str:
    n = int(inp)
    rows = range(n, 0, -1) if upside_down else range(1, n + 1)
    return lines((char * i).rjust(n) if right else char * i for i in rows)


def solve_pairs(op: str, rel: str, inp: str) -> str:
    head, xs_line, t_line = inp.split("\n")[:3]
    xs, t = [int(v) for v in xs_line.split()][: int(head)], int(t_line)
    count = 0
    for i in range(len(xs)):
        for j in range(i + 1, len(xs)):
            v = xs[i] + xs[j] if op == "sum" else xs[i] * xs[j]
            count += {"equal": v == t, "less": v < t, "greater": v > t}[rel]
    return f"{count}\n"


def solve_palindromes(yes: str, no: str, fold_case: bool, inp: str) -> str:
    head, *words = inp.split("\n")
    out = []
    for w in words[: int(head)]:
        w = w.lower() if fold_case else w
        out.append(yes if w == w[::-1] else no)
    return lines(out)


def solve_base(base: int, width: int, inp: str) -> str:
    n, digits = int(inp), ""
    while True:
        n, d = divmod(n, base)
        digits = str(d) + digits
        if not n:
            break
    return digits.rjust(width, "0") + "\n"


# --- templates: rng -> (statement, params, input generator, solver) ------------------------

def t_sum_divisible(rng):
    k = rng.randint(2, 9)
    return (f"{INTS} Print the sum of those integers that are divisible by {k} (0 if there are none).",
            {"k": k}, ints_input, partial(solve_sum_divisible, k))


def t_kth(rng):
    k, largest = rng.randint(1, 4), rng.random() < 0.5
    return (f"{INTS} It is guaranteed that n >= {k}. Print the {ORDINAL[k]} {'largest' if largest else 'smallest'} "
            "of the n integers, counting repeated values separately.",
            {"k": k, "largest": largest}, partial(ints_input, min_n=k), partial(solve_kth, k, largest))


def t_filter_sorted(rng):
    t, desc = rng.randint(-20, 20), rng.random() < 0.5
    return (f"{INTS} Print the integers greater than {t} in {'descending' if desc else 'ascending'} order, "
            "separated by single spaces, or NONE if there are none.",
            {"t": t, "descending": desc}, ints_input, partial(solve_filter_sorted, t, desc))


def t_text(rng):
    kind = rng.choice(["reverse", "words_reversed", "word_order"])
    case = rng.choice(["upper", "lower", ""])
    what = {"reverse": "the line reversed, character by character",
            "words_reversed": "every word reversed, keeping the words in their order",
            "word_order": "the words in reverse order"}[kind]
    suffix = {"upper": ", in upper case", "lower": ", in lower case", "": ""}[case]
    return (f"Read one line of words separated by single spaces. Print {what}{suffix}.",
            {"kind": kind, "case": case}, partial(line_input, mixed_case=True), partial(solve_text, kind, case))


def t_count_chars(rng):
    chars = "".join(sorted(rng.sample("abcdeilmnorstuvz", rng.randint(2, 5))))
    return (f"Read one line of lowercase words separated by spaces. Print how many of its characters are "
            f"one of the letters {', '.join(chars)}.", {"chars": chars}, line_input, partial(solve_count_chars, chars))


def t_fizzbuzz(rng):
    a, b = rng.sample(range(2, 8), 2)
    wa, wb = rng.sample(FIZZ, 2)
    return (f"Read an integer n. For each i from 1 to n, print one line: {wa}{wb} if i is divisible by both {a} "
            f"and {b}, {wa} if i is divisible only by {a}, {wb} if only by {b}, and the number i otherwise.",
            {"a": a, "b": b, "wa": wa, "wb": wb}, partial(int_input, lo=1, hi=30),
            partial(solve_fizzbuzz, a, b, wa, wb))


def t_digit_sum(rng):
    base, power = rng.randint(2, 10), rng.randint(1, 3)
    what = "digits" if power == 1 else ("squares of the digits" if power == 2 else "cubes of the digits")
    return (f"Read a non-negative integer n. Print the sum of the {what} of n written in base {base}.",
            {"base": base, "power": power}, partial(int_input, lo=0, hi=10**6), partial(solve_digit_sum, base, power))


def t_gcd_lcm(rng):
    fn, two_lines = rng.choice(["gcd", "lcm"]), rng.random() < 0.5
    mod = rng.choice([0, 97, 1000]) if fn == "lcm" else 0
    where = "on two lines" if two_lines else "on one line, separated by a space"
    what = "greatest common divisor" if fn == "gcd" else "least common multiple"
    sep = "\n" if two_lines else " "
    return (f"Read two positive integers a and b, given {where}. Print their {what}"
            f"{f' modulo {mod}' if mod else ''}.", {"fn": fn, "mod": mod, "two_lines": two_lines},
            lambda r: f"{r.randint(1, 500)}{sep}{r.randint(1, 500)}\n", partial(solve_gcd_lcm, fn, mod))


def t_recurrence(rng):
    x, y, m = rng.randint(0, 9), rng.randint(1, 9), rng.choice([10, 97, 100, 1000, 1009])
    return (f"A sequence starts with the terms {x} and {y}; every later term is the sum of the two before it. "
            f"Read n (n >= 1) and print the n-th term (the first term is {x}) modulo {m}.",
            {"x": x, "y": y, "m": m}, partial(int_input, lo=1, hi=60), partial(solve_recurrence, x, y, m))


def t_primes(rng):
    kind, none_word = rng.choice(["count", "list"]), rng.choice(["NONE", "none", "-1", "EMPTY"])
    what = ("how many of the n integers are prime" if kind == "count" else
            f"the prime ones among the n integers in input order, separated by single spaces, or {none_word} "
            "if there are none")
    return (f"{INTS} Print {what}.", {"kind": kind, "none_word": none_word},
            partial(ints_input, lo=0, hi=60), partial(solve_primes, kind, none_word))


def t_caesar(rng):
    k, forward = rng.randint(1, 25), rng.random() < 0.5
    return (f"Read one line of lowercase letters and spaces. Shift every letter {k} places "
            f"{'forward' if forward else 'backward'} in the alphabet, wrapping around between z and a, keep the "
            "spaces, and print the result.", {"k": k, "forward": forward}, line_input,
            partial(solve_caesar, k if forward else -k))


def t_running(rng):
    op = rng.choice(["sum", "max", "min", "product"])
    what = {"sum": "sum", "max": "maximum", "min": "minimum",
            "product": "product modulo 1000 (a non-negative number)"}[op]
    return (f"{INTS} Print n numbers separated by single spaces: the i-th is the {what} of the first i integers.",
            {"op": op}, partial(ints_input, lo=-9 if op != "product" else 0, hi=30), partial(solve_running, op))


def t_words(rng):
    kind, k = rng.choice(["longer", "longest", "distinct"]), rng.randint(2, 5)
    what = {"longer": f"how many words have more than {k} letters",
            "longest": "the longest word (the first one if several are equally long)",
            "distinct": "how many different words it holds"}[kind]
    return (f"Read one line of words separated by single spaces. Print {what}.", {"kind": kind, "k": k},
            line_input, partial(solve_words, kind, k))


def t_triangle(rng):
    char, right, upside = rng.choice("*#+@"), rng.random() < 0.5, rng.random() < 0.5
    rows = "the first row holds n characters and each next row one fewer" if upside else "row i holds i characters"
    align = ", each row right-aligned by leading spaces to width n" if right else ", starting at the left edge"
    return (f"Read an integer n (1 <= n <= 9). Print a triangle of n rows made of '{char}' characters: "
            f"{rows}{align}.",
            {"char": char, "right": right, "upside_down": upside}, partial(int_input, lo=1, hi=9),
            partial(solve_triangle, char, right, upside))


def t_pairs(rng):
    op, rel = rng.choice(["sum", "product"]), rng.choice(["equal", "less", "greater"])
    rel_text = {"equal": "equal to t", "less": "less than t", "greater": "greater than t"}[rel]

    def gen(r):
        return ints_input(r, lo=-10, hi=10, min_n=2) + f"{r.randint(-10, 20)}\n"
    return (f"{INTS} The third line holds an integer t. Print how many pairs of positions i < j have "
            f"a_i {'+' if op == 'sum' else '*'} a_j {rel_text}.", {"op": op, "rel": rel}, gen,
            partial(solve_pairs, op, rel))


def t_palindromes(rng):
    (yes, no), fold = rng.choice(YES_NO), rng.random() < 0.5

    def gen(r):
        words = [r.choice(WORDS) for _ in range(r.randint(1, 5))]
        if fold:
            words = [w.capitalize() if r.random() < 0.5 else w for w in words]
        return f"{len(words)}\n" + lines(words)
    case = " when upper and lower case are not told apart" if fold else ""
    return (f"The first line holds an integer n; each of the next n lines holds one word. For each word print "
            f"{yes} if it reads the same forwards and backwards{case}, else {no}, one answer per line.", {"yes": yes, "no": no, "fold_case": fold}, gen,
            partial(solve_palindromes, yes, no, fold))


def t_base(rng):
    base, width = rng.randint(2, 9), rng.choice([0, 4, 6, 8])
    pad = f", padded with leading zeros to at least {width} digits" if width else ""
    return (f"Read a non-negative integer n. Print n written in base {base}{pad}.", {"base": base, "width": width},
            partial(int_input, lo=0, hi=5000), partial(solve_base, base, width))


TEMPLATES: dict[str, Callable[[random.Random], tuple[str, dict, InputGen, Solver]]] = {
    "sum_divisible": t_sum_divisible, "kth": t_kth, "filter_sorted": t_filter_sorted, "text": t_text,
    "count_chars": t_count_chars, "fizzbuzz": t_fizzbuzz, "digit_sum": t_digit_sum, "gcd_lcm": t_gcd_lcm,
    "recurrence": t_recurrence, "primes": t_primes, "caesar": t_caesar, "running": t_running,
    "words": t_words, "triangle": t_triangle, "pairs": t_pairs, "palindromes": t_palindromes, "base": t_base,
}

INSTRUCTION = ("Write a Python 3 program that reads the input from standard input and prints the answer to "
               "standard output. Put the whole program in one ```python code block.")


def split_of(statement: str, eval_fraction: float) -> str:
    digest = hashlib.blake2b(statement.encode(), digest_size=8).digest()
    return "eval" if int.from_bytes(digest, "big") / 2**64 < eval_fraction else "train"


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.rstrip("\n").split("\n"))


class CodeTask:
    """`task[i]` is the i-th programming problem of `split` ("train" or "eval") for `seed`;
    its `answer` is the `code` verifier's reference `{"tests": [{"stdin", "stdout"}, ...]}`."""

    def __init__(self, *, seed: int, split: str = "train", tests_per_problem: int = 4,
                 templates: tuple[str, ...] | list[str] = (), show_example: bool = True,
                 eval_fraction: float = 0.1) -> None:
        """`templates`: names of `TEMPLATES` to draw from (empty: all). `show_example`: the
        prompt shows the first test's input and output (it stays a test)."""
        if split not in ("train", "eval"):
            raise ValueError(f"split must be 'train' or 'eval', got {split!r}")
        unknown = set(templates) - set(TEMPLATES)
        if unknown:
            raise ValueError(f"unknown code templates {sorted(unknown)}; available: {', '.join(TEMPLATES)}")
        if tests_per_problem < 1:
            raise ValueError("tests_per_problem must be at least 1")
        self.seed, self.split, self.tests_per_problem = seed, split, tests_per_problem
        self.templates = tuple(templates) or tuple(TEMPLATES)
        self.show_example, self.eval_fraction = show_example, eval_fraction

    def problem(self, i: int) -> CodeProblem:
        rng = random.Random(f"code:{self.seed}:{i}")
        for _ in range(10_000):  # rejection into this split; ~10 tries for the small split
            name = rng.choice(self.templates)
            statement, params, gen, solve = TEMPLATES[name](rng)
            if split_of(statement, self.eval_fraction) == self.split:
                inputs = [gen(rng) for _ in range(self.tests_per_problem)]
                return CodeProblem(name, statement, params, tuple((s, solve(s)) for s in inputs))
        raise ValueError(f"the {self.split} split of this code task is (nearly) empty; "
                         "use more templates or change eval_fraction")

    def __getitem__(self, i: int) -> Sample:
        p = self.problem(i)
        prompt = f"{p.statement}\n\n{INSTRUCTION}"
        if self.show_example:
            stdin, stdout = p.tests[0]
            prompt += f"\n\nFor example, for the input\n\n{_indent(stdin)}\n\nthe output is\n\n{_indent(stdout)}"
        answer = {"tests": [{"stdin": s, "stdout": o} for s, o in p.tests]}
        return Sample(prompt=prompt, answer=answer,
                      meta={"task": "code", "template": p.template, "params": p.params, "index": i})

    def take(self, n: int, start: int = 0) -> list[Sample]:
        return [self[i] for i in range(start, start + n)]
