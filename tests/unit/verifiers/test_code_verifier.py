"""The `code` verifier: extraction, output comparison, rewards, asserts, and the procedural task."""
import json
import time

import pytest

from rlvr.data.code_task import (TEMPLATES, CodeTask, solve_base, solve_caesar, solve_digit_sum,
                                 solve_fizzbuzz, solve_kth, solve_pairs, solve_palindromes,
                                 solve_recurrence, solve_running, solve_text, solve_triangle)
from rlvr.verifiers import REGISTRY, get
from rlvr.verifiers.code import CodeVerifier, extract_program, normalize_output, parse_reference

F = "```"
EXTRACT_TABLE = [
    # (completion, program, why)
    ("print(1)", "print(1)", "no fence: the whole completion"),
    (f"Here:\n{F}python\nprint(1)\n{F}\nDone.", "print(1)", "one python block"),
    (f"{F}python\nprint(1)\n{F}\nbetter:\n{F}python\nprint(2)\n{F}", "print(2)", "the last block counts"),
    (f"{F}\nprint(3)\n{F}", "print(3)", "a bare fence is python"),
    (f"{F}py\nprint(4)\n{F}", "print(4)", "py tag"),
    (f"{F}Python3 title\nprint(5)\n{F}", "print(5)", "tag case and info words"),
    (f"{F}python\nprint(1)\n{F}\n{F}bash\nls\n{F}", "print(1)", "other languages are skipped"),
    (f"{F}python\nprint(6)\nprint(7)", "print(6)\nprint(7)", "an unclosed final fence runs to the end"),
    (f"{F}python\nx = 1\n````\nprint(x)", "x = 1", "a longer fence closes too (CommonMark)"),
    (f"{F}python\nprint(9)\n{F}\n{F}\n\n{F}", "print(9)", "empty blocks are not programs"),
    (f"````python\ns = '{F}'\n````", f"s = '{F}'", "a longer opening fence holds a shorter one"),
    (f"{F}python\r\nprint(8)\r\n{F}\r\n", "print(8)", "CRLF line ends"),
    (f"{F}text\nnot code\n{F}", f"{F}text\nnot code\n{F}", "no python block: the whole completion"),
]


@pytest.mark.parametrize("completion, program, why", EXTRACT_TABLE, ids=[e[2] for e in EXTRACT_TABLE])
def test_extract_program(completion, program, why):
    assert extract_program(completion) == program, why


NORMALIZE_TABLE = [
    # (actual, expected, equal)
    ("3\n", "3", True),
    ("3   \n\n\n", "3", True),
    ("a \nb\t\n", "a\nb", True),
    ("a\r\nb\r\n", "a\nb", True),
    (" 3", "3", False),  # leading whitespace matters
    ("a\n\nb", "a\nb", False),  # inner blank lines matter
    ("3.0", "3", False),  # no numeric tolerance
]


@pytest.mark.parametrize("actual, expected, equal", NORMALIZE_TABLE)
def test_output_comparison(actual, expected, equal):
    assert (normalize_output(actual) == normalize_output(expected)) is equal


SUM = {"tests": [{"stdin": "1 2\n", "stdout": "3\n"}, {"stdin": "5 5", "stdout": "10"},
                 {"stdin": "-1 1", "stdout": "0"}]}
ADD = "a, b = map(int, input().split())\n"
VERIFY_TABLE = [
    # (completion, reference, mode, reward, reason)
    (f"{F}python\n{ADD}print(a + b)\n{F}", SUM, "fraction", 1.0, None),
    (f"{ADD}print(a * b)", SUM, "fraction", 0.0, "wrong_answer"),  # 2, 25, -1: none right
    (f"{ADD}print(a + b if a != 5 else 0)", SUM, "fraction", 2 / 3, "wrong_answer"),
    (f"{ADD}print(a + b if a != 5 else 0)", SUM, "all", 0.0, "wrong_answer"),
    (f"{ADD}print(a + b, '   ')\nprint()", SUM, "fraction", 1.0, None),  # trailing space and blank line
    (f"{ADD}print(' ', a + b)", SUM, "fraction", 0.0, "wrong_answer"),
    (f"{ADD}print(a + b)\nraise SystemExit(1)", SUM, "fraction", 0.0, "nonzero_exit"),  # right output, crash
    ("print(", SUM, "fraction", 0.0, "syntax_error"),
    ("  \n", SUM, "fraction", 0.0, "no_program"),
    (f"{F}python\n{F}", SUM, "fraction", 0.0, "syntax_error"),  # no code in the block: the text is run
    ("x = '\0'", SUM, "fraction", 0.0, "syntax_error"),  # a null byte does not compile
    (f"{ADD}print(a + b)", json.dumps(SUM), "fraction", 1.0, None),  # a JSON-string reference
]


@pytest.mark.parametrize("completion, reference, mode, reward, reason", VERIFY_TABLE)
def test_code_verifier_table(completion, reference, mode, reward, reason):
    v = CodeVerifier(mode=mode, timeout_s=2.0)(completion, reference, {})
    assert v.reward == pytest.approx(reward)
    assert v.info.get("reason") == reason, v.info


ADVERSARIAL = [
    # (completion, reason): the adversarial inputs, each a clean 0 with a reason
    ("", "no_program"),
    ("x" * (1 << 20), "program_too_long"),  # 1 MB
    ("print('\ud800')", "syntax_error"),  # a lone surrogate cannot be encoded: does not compile
    ("(" * 10_000, "syntax_error"),  # deeply nested: the parser refuses, no recursion here
    ("{" * 100_000 + "\\boxed{", "program_too_long"),
    (f"{F}python\nprint(9**9**9**9**9)", "timeout"),  # a tower of powers runs out of time, not us
    ("import sys\nsys.stdout.buffer.write(b'\\xff\\xfe3')", "wrong_answer"),  # invalid UTF-8 out
]


@pytest.mark.parametrize("completion, reason", ADVERSARIAL, ids=[a[1] + str(i) for i, a in enumerate(ADVERSARIAL)])
def test_adversarial_completions(completion, reason):
    v = CodeVerifier(timeout_s=0.5)(completion, {"tests": [{"stdin": "", "stdout": "3"}]}, {})
    assert v.reward == 0.0 and v.info["reason"] == reason, v.info


TESTS = "assert double(2) == 4\nassert double(0) == 0\nassert double(-3) == -6\nassert double(5) == 11\n"
ASSERT_TABLE = [
    # (program, tests, reward, reason); the 4th assert is wrong on purpose for x * 2
    ("def double(x):\n    return x * 2", TESTS, 3 / 4, "assert_failed"),
    ("def double(x):\n    return x + 2", TESTS, 1 / 4, "assert_failed"),  # only double(2) == 4 holds
    ("def double(x):\n    return x * 2", "import math\nk = 2\nassert double(k) == 4\nassert math.pi\n", 1.0, None),
    ("def double(x):\n    return 1 / 0\n", "assert double(1) == 2\nassert True\n", 1 / 2, "assert_failed"),
    ("raise ValueError('x')", TESTS, 0.0, "program_error: ValueError"),
    ("import sys\nsys.exit(0)", TESTS, 0.0, "program_error: SystemExit"),  # leaving early is no pass
    ("import os\nos._exit(0)", TESTS, 0.0, "exit_before_tests"),
    ("def double(x):\n    return x * 2", "double(4)\n", 1.0, None),  # no assert: one test, ran cleanly
    ("def double(x):\n    return x * 2", "raise RuntimeError\n", 0.0, "test_error: RuntimeError"),
    ("def double(x):\n    while True: pass", "assert double(1) == 2\n", 0.0, "timeout"),
]


@pytest.mark.parametrize("program, tests, reward, reason", ASSERT_TABLE)
def test_asserts_mode(program, tests, reward, reason):
    v = CodeVerifier(timeout_s=1.0)(program, {"asserts": tests}, {})
    assert v.reward == pytest.approx(reward), v.info
    assert v.info.get("reason") == reason, v.info


JUDGE_TABLE = [
    # (program, tests, reward, why): the tests run in the judge's process, the program's
    # values reach them as plain data or handles (docs/verifiers/code.md, "The verdict channel")
    ("from collections import Counter\ndef count(s):\n    return Counter(s)",
     "assert count('aab') == {'a': 2, 'b': 1}\n", 1.0, "a dict subclass arrives as the dict it holds"),
    ("from collections import namedtuple\nP = namedtuple('P', 'x y')\ndef origin():\n    return P(0, 0)",
     "assert origin() == (0, 0)\n", 1.0, "a namedtuple arrives as a tuple"),
    ("class Stack:\n    def __init__(self):\n        self.items = []\n    def push(self, x):\n"
     "        self.items.append(x)\n    def pop(self):\n        return self.items.pop()\n"
     "    def __len__(self):\n        return len(self.items)",
     "s = Stack()\ns.push(1)\ns.push(2)\nassert s.pop() == 2\nassert len(s) == 1\nassert s.items == [1]\n",
     1.0, "a program's instance is a handle: methods, len(), attributes"),
    ("def count_up(n):\n    yield from range(n)", "assert list(count_up(3)) == [0, 1, 2]\nassert 2 in count_up(3)\n",
     1.0, "iteration comes back as a list; `in` runs on it here"),
    ("def div(a, b):\n    if b == 0:\n        raise ValueError('b is 0')\n    return a / b",
     "try:\n    div(1, 0)\nexcept ValueError:\n    pass\nelse:\n    raise AssertionError\nassert div(6, 3) == 2\n",
     1.0, "a builtin exception of the program's is raised as itself in the tests"),
    ("def double(x):\n    return 2 * x", "def check(candidate):\n    assert candidate(2) == 4\ncheck(double)\n",
     1.0, "HumanEval's check(candidate)"),
    ("LIMIT = 10\ndef under(x):\n    return x < LIMIT", "assert LIMIT == 10\nassert under(3)\n", 1.0,
     "top-level values of the program"),
    ("import math\ndef area(r):\n    return math.pi * r ** 2", "assert math.isclose(area(1), 3.14159, rel_tol=1e-3)\n",
     1.0, "MBPP's tests use the program's `import math`: the judge imports its own"),
    ("def big():\n    return 2 ** 20000", "assert big() == 2 ** 20000\n", 1.0, "ints past JSON's digits"),
    ("def values():\n    return [float('inf'), b'\\x00', {1, 2}, frozenset({3}), 1j, (None, True), {(1,): [-0.0]}]",
     "assert values() == [float('inf'), b'\\x00', {1, 2}, frozenset({3}), 1j, (None, True), {(1,): [0.0]}]\n"
     "assert [type(v).__name__ for v in values()] == "
     "['float', 'bytes', 'set', 'frozenset', 'complex', 'tuple', 'dict']\n",
     1.0, "every plain type keeps its exact type"),
    ("class Yes:\n    def __bool__(self):\n        return True\ndef is_even(x):\n    return Yes()",
     "assert is_even(2)\nassert not is_even(3)\n", 0.5, "truth is the program's answer, as in Python"),
    ("def max(xs):\n    return 0", "assert max([1, 2]) == 2\n", 1.0, "the tests' builtins are Python's"),
    # documented limits: what the tests cannot do through a pipe
    ("def apply(f, x):\n    return f(x)", "assert apply(lambda v: v + 1, 1) == 2\n", 0.0,
     "limit: a test's own function cannot be passed to the program"),
    ("def clear(xs):\n    xs.clear()", "xs = [1]\nclear(xs)\nassert xs == []\n", 0.0,
     "limit: arguments are copies, the program's changes to them stay there"),
    ("class P:\n    def __init__(self, x):\n        self.x = x\n    def __eq__(self, other):\n"
     "        return self.x == other.x\ndef make(x):\n    return P(x)", "assert make(1) == P(1)\n", 0.0,
     "limit: a handle equals only itself, whatever the program's __eq__"),
]


@pytest.mark.parametrize("program, tests, reward, why", JUDGE_TABLE, ids=[j[3] for j in JUDGE_TABLE])
def test_what_the_tests_see_of_the_program(program, tests, reward, why):
    v = CodeVerifier(timeout_s=1.0)(program, {"asserts": tests}, {})
    assert v.reward == pytest.approx(reward), (why, v.info)


def test_asserts_mode_all():
    v = CodeVerifier(mode="all")("def double(x):\n    return x * 2", {"asserts": TESTS}, {})
    assert v.reward == 0.0 and v.info["passed"] == 3 and v.info["total"] == 4


@pytest.mark.parametrize("reference, match", [
    ({"tests": []}, "non-empty"),
    ({"tests": [{"stdin": "1"}]}, "non-empty"),
    ({"asserts": "assert ("}, "do not parse"),
    ({"input": "1"}, "needs 'tests' or 'asserts'"),
    ("not json", "must be JSON"),
    (["tests"], "got list"),
])
def test_bad_references_are_user_errors(reference, match):
    with pytest.raises(ValueError, match=match):
        parse_reference(reference)


def test_bad_options_are_user_errors():
    with pytest.raises(ValueError, match="mode"):
        CodeVerifier(mode="most")
    with pytest.raises(ValueError, match="unknown isolation"):
        CodeVerifier(require=["chroot"])


def test_required_isolation_is_checked():
    v = CodeVerifier(require=["audit"])
    v.prepare()  # the audit hook is there wherever Python >= 3.8 runs
    assert v("print(1)", {"tests": [{"stdout": "1"}]}, {}).reward == 1.0


ORDER = {"tests": [{"stdin": str(i), "stdout": str(i * i)} for i in range(6)]}


@pytest.mark.parametrize("workers", [1, 3])
def test_parallel_tests_keep_their_order(workers):
    # squares except for i = 2 and 4 (prints i): 4 of 6 pass; the first failure is test 2
    program = "i = int(input())\nprint(i if i in (2, 4) else i * i)"
    v = CodeVerifier(workers=workers)(program, ORDER, {})
    assert v.reward == pytest.approx(4 / 6)
    assert v.info["passed"] == 4 and v.info["reason"] == "wrong_answer"


def test_all_mode_stops_at_the_first_failure():
    # test 0 fails at once; tests 1.. would each sleep for the whole limit
    program = "import time\ni = int(input())\nif i:\n    time.sleep(5)\nprint(-1)"
    start = time.monotonic()
    v = CodeVerifier(mode="all", timeout_s=1.0)(program, ORDER, {})
    assert v.reward == 0.0 and time.monotonic() - start < 1.0


def test_blocked_operation_zeroes_the_reward():
    # passes test 0 honestly, then tries a socket on test 1: the whole completion gets 0
    program = "i = int(input())\nif i == 1:\n    import socket; socket.socket()\nprint(i * i)"
    v = CodeVerifier()(program, ORDER, {})
    assert v.reward == 0.0 and v.info["reason"] == "blocked: socket"


def test_registered_and_usable_in_the_pool():
    if "code" not in REGISTRY:
        pytest.skip("rlvr.verifiers.REGISTRY does not list 'code' yet")
    from rlvr.verifiers.pool import VerifierPool
    assert isinstance(get("code", mode="all"), CodeVerifier)
    good, bad = f"{ADD}print(a + b)", "while True: pass"
    with VerifierPool([("code", {"timeout_s": 0.5})], workers=2, timeout_s=10.0) as pool:
        verdicts = pool.run([(0, good, SUM, {}), (0, bad, SUM, {}), (0, good, SUM, {})])
    assert [v.reward for v in verdicts] == [1.0, 0.0, 1.0]
    assert verdicts[1].info["reason"] == "timeout"


# --- the procedural task -------------------------------------------------------------------

SOLVER_TABLE = [
    # (solver call, input, expected output), worked by hand
    (lambda s: solve_kth(2, True, s), "5\n3 9 9 1 4\n", "9\n"),  # sorted desc 9 9 4 3 1: 2nd is 9
    (lambda s: solve_kth(1, False, s), "3\n-2 7 0\n", "-2\n"),
    (lambda s: solve_text("words_reversed", "upper", s), "Noon sun\n", "NOON NUS\n"),
    (lambda s: solve_text("word_order", "", s), "a bb c\n", "c bb a\n"),
    (lambda s: solve_fizzbuzz(2, 3, "Foo", "Bar", s), "6\n", "1\nFoo\nBar\nFoo\n5\nFooBar\n"),
    (lambda s: solve_digit_sum(2, 1, s), "13\n", "3\n"),  # 13 = 1101b
    (lambda s: solve_digit_sum(10, 2, s), "123\n", "14\n"),  # 1 + 4 + 9
    (lambda s: solve_recurrence(2, 1, 100, s), "5\n", "7\n"),  # Lucas: 2 1 3 4 7
    (lambda s: solve_caesar(-3, s), "abc xyz\n", "xyz uvw\n"),
    (lambda s: solve_running("max", s), "4\n1 5 2 7\n", "1 5 5 7\n"),
    (lambda s: solve_running("product", s), "3\n10 20 30\n", "10 200 0\n"),  # 6000 mod 1000 = 0
    (lambda s: solve_triangle("#", True, False, s), "3\n", "  #\n ##\n###\n"),
    (lambda s: solve_triangle("*", False, True, s), "2\n", "**\n*\n"),
    (lambda s: solve_pairs("sum", "equal", s), "4\n1 2 3 4\n5\n", "2\n"),  # (1,4) (2,3)
    (lambda s: solve_palindromes("Y", "N", True, s), "2\nRadar\nsun\n", "Y\nN\n"),
    (lambda s: solve_base(3, 4, s), "5\n", "0012\n"),  # 5 = 12 in base 3
    (lambda s: solve_base(2, 0, s), "0\n", "0\n"),
]


@pytest.mark.parametrize("solve, stdin, expected", SOLVER_TABLE)
def test_task_solvers(solve, stdin, expected):
    assert solve(stdin) == expected


def test_task_is_deterministic_and_split():
    a, b = CodeTask(seed=3).take(30), CodeTask(seed=3).take(30)
    assert [s.prompt for s in a] == [s.prompt for s in b] and [s.answer for s in a] == [s.answer for s in b]
    assert CodeTask(seed=3)[7] == a[7]  # item i depends on (seed, i) only
    statement = lambda s: s.prompt.split("\n")[0]
    train = {statement(s) for s in CodeTask(seed=0).take(300)}
    held_out = {statement(s) for s in CodeTask(seed=1, split="eval").take(100)}
    assert held_out and not train & held_out


def test_task_samples_are_references_for_the_verifier():
    s = CodeTask(seed=0, tests_per_problem=3)[0]
    assert len(s.answer["tests"]) == 3 and s.meta["task"] == "code" and s.meta["template"] in TEMPLATES
    assert "```python" in s.prompt and s.answer["tests"][0]["stdin"].strip() in s.prompt  # example shown
    parse_reference(s.answer)
    with pytest.raises(ValueError, match="unknown code templates"):
        CodeTask(seed=0, templates=["nope"])


# Correct programs written from the statements (not from the solvers), one per template.
PROGRAMS = {
    "sum_divisible": "input()\nprint(sum(x for x in map(int, input().split()) if x % {k} == 0))",
    "kth": "input()\nxs = sorted(map(int, input().split()), reverse={largest})\nprint(xs[{k} - 1])",
    "fizzbuzz": ("for i in range(1, int(input()) + 1):\n"
                 "    s = ('{wa}' if i % {a} == 0 else '') + ('{wb}' if i % {b} == 0 else '')\n"
                 "    print(s or i)"),
    "base": ("n = int(input())\nd = ''\nwhile True:\n    n, r = divmod(n, {base})\n    d = str(r) + d\n"
             "    if n == 0:\n        break\nprint(d.zfill({width}))"),
    "filter_sorted": ("input()\nxs = sorted((x for x in map(int, input().split()) if x > {t}), reverse={descending})\n"
                      "print(' '.join(map(str, xs)) or 'NONE')"),
    "text": ("s = input()\nk = '{kind}'\nout = s[::-1] if k == 'reverse' else ' '.join(w[::-1] for w in s.split(' ')) "
             "if k == 'words_reversed' else ' '.join(reversed(s.split(' ')))\n"
             "print(dict(upper=out.upper(), lower=out.lower()).get('{case}', out))"),
    "count_chars": "print(sum(c in '{chars}' for c in input()))",
    "digit_sum": "n, t = int(input()), 0\nwhile n:\n    n, d = divmod(n, {base})\n    t += d ** {power}\nprint(t)",
    "gcd_lcm": ("import math, sys\na, b = map(int, sys.stdin.read().split())\n"
                "v = math.gcd(a, b) if '{fn}' == 'gcd' else math.lcm(a, b)\nprint(v % {mod} if {mod} else v)"),
    "recurrence": "a, b = {x}, {y}\nfor _ in range(int(input()) - 1):\n    a, b = b, a + b\nprint(a % {m})",
    "primes": ("input()\np = [x for x in map(int, input().split()) if x > 1 and all(x % d for d in range(2, x))]\n"
               "print(len(p) if '{kind}' == 'count' else ' '.join(map(str, p)) or '{none_word}')"),
    "caesar": ("k = {k} if {forward} else -{k}\n"
               "print(''.join(chr((ord(c) - 97 + k) % 26 + 97) if c != ' ' else c for c in input()))"),
    "running": ("import itertools, operator\ninput()\nxs = list(map(int, input().split()))\n"
                "f = dict(sum=operator.add, max=max, min=min, product=lambda a, b: a * b % 1000)['{op}']\n"
                "print(*[v % 1000 if '{op}' == 'product' else v for v in itertools.accumulate(xs, f)])"),
    "words": ("w = input().split()\nk = '{kind}'\n"
              "print(sum(len(x) > {k} for x in w) if k == 'longer' else max(w, key=len) if k == 'longest' "
              "else len(set(w)))"),
    "triangle": ("n = int(input())\nfor i in (range(n, 0, -1) if {upside_down} else range(1, n + 1)):\n"
                 "    print(('{char}' * i).rjust(n) if {right} else '{char}' * i)"),
    "pairs": ("n = int(input())\nxs = list(map(int, input().split()))\nt = int(input())\nc = 0\n"
              "for i in range(n):\n    for j in range(i + 1, n):\n"
              "        v = xs[i] + xs[j] if '{op}' == 'sum' else xs[i] * xs[j]\n"
              "        c += v == t if '{rel}' == 'equal' else v < t if '{rel}' == 'less' else v > t\nprint(c)"),
    "palindromes": ("for _ in range(int(input())):\n    w = input()\n    w = w.lower() if {fold_case} else w\n"
                    "    print('{yes}' if w == w[::-1] else '{no}')"),
}


def test_every_template_has_a_program():
    assert set(PROGRAMS) == set(TEMPLATES)


@pytest.mark.parametrize("template", sorted(PROGRAMS))
def test_task_tests_accept_right_programs_and_reject_wrong_ones(template):
    task = CodeTask(seed=5, templates=[template], tests_per_problem=4)
    s = task[0]
    program = PROGRAMS[template].format(**s.meta["params"])
    assert CodeVerifier(workers=4)(program, s.answer, s.meta).reward == 1.0, (s.prompt, program)
    assert CodeVerifier(mode="all")("print(12345)", s.answer, s.meta).reward == 0.0
