"""The verdict channel of the code sandbox's asserts mode (issue 9, item 6): the program cannot
forge its test results, read or reach the judge process that reports them, or gain by leaving
early; values cross to the judge as exact builtin types."""
import collections
import json
import os
import signal
import subprocess
import sys

import pytest

from rlvr.verifiers.code import CodeVerifier, _plain, run_python
from tests.unit.verifiers.sandbox_fixtures import LIMITS, ONE_TEST, layers  # noqa: F401 (a fixture)

DOUBLE = "assert double(2) == 4\nassert double(3) == 6\n"
FORGE = ("import os\ndef forge():\n    for fd in range(3, 1024):\n        try:\n"
         "            os.write(fd, b'A 0 1\\nA 1 1\\nD\\n')\n        except OSError:\n            pass\n")
WALK = "import os, sys\nf = sys._getframe()\nwhile {name!r} not in f.f_locals:\n    f = f.f_back\n"
WRONG = "\ndef double(x):\n    return 0\n"
FORGERIES = [
    # (name, program, tests): no program computes a right answer; each one scored 1.0 when
    # the assert results came from the program's own process
    ("verdict lines to every fd", FORGE + "forge()\nos._exit(0)", DOUBLE),
    ("frame walk to record", WALK.format(name="record") + "for line in ('A 0 1', 'A 1 1', 'D'):\n"
     "    f.f_locals['record'](line)\nos._exit(0)", DOUBLE),
    ("frame walk to write", WALK.format(name="out_fd") + "f.f_locals['write'](f.f_locals['out_fd'], "
     "b'A 0 1\\nA 1 1\\nD\\n')\nos._exit(0)", DOUBLE),
    ("harness's test list replaced", WALK.format(name="tests") + "f.f_locals['tests'][:] = "
     "[(True, compile('pass', '', 'exec'))] * 2" + WRONG, DOUBLE),
    ("atexit handler after the tests", FORGE + "import atexit\natexit.register(forge)" + WRONG, DOUBLE),
    ("finalizer after the tests", FORGE + "class Late:\n    def __del__(self):\n        forge()\n"
     "keep = Late()" + WRONG, DOUBLE),
    ("expected value read from the caller's code", "import sys\ndef double(x):\n"
     "    consts = sys._getframe(1).f_code.co_consts\n"
     "    return [c for c in consts if c is not None and c != x][0]\n", DOUBLE),
    ("__eq__ always true", "class Anything:\n    def __eq__(self, other):\n        return True\n"
     "def double(x):\n    return Anything()\n", DOUBLE),
    ("str subclass with __eq__", "class S(str):\n    __hash__ = str.__hash__\n"
     "    def __eq__(self, other):\n        return True\ndef double(x):\n    return S('no')\n", DOUBLE),
    ("dict key with __eq__ and __hash__", "class K:\n    def __hash__(self):\n        return 1\n"
     "    def __eq__(self, other):\n        return True\ndef table():\n    return {K(): 'a'}\n",
     "assert table() == {1: 'a'}\n"),
    ("builtins redefined by the program", "abs = lambda x: 0\nall = lambda *args: True" + WRONG,
     "assert abs(double(2) - 4) < 1e-9\nassert all(double(x) == 2 * x for x in (1, 2))\n"),
    ("the program's math patched", "import math\nmath.isclose = lambda *args, **kwargs: True\n"
     "def area(r):\n    return 0.0\n", "assert math.isclose(area(1), 3.14159, rel_tol=1e-3)\n"),
    ("verdict lines printed", "print('A 0 1\\nA 1 1\\nD')\nimport sys\n"
     "sys.stderr.write('A 0 1\\nA 1 1\\nD\\n')" + WRONG, DOUBLE),
]
HONEST = {tests: "def double(x):\n    return 2 * x\n" for _, _, tests in FORGERIES}
HONEST["assert table() == {1: 'a'}\n"] = "def table():\n    return {1: 'a'}\n"
HONEST["assert math.isclose(area(1), 3.14159, rel_tol=1e-3)\n"] = ("import math\ndef area(r):\n"
                                                                   "    return math.pi * r * r\n")


@pytest.mark.parametrize("audit", [True, False], ids=["all layers", "no audit hook"])
@pytest.mark.parametrize("name, program, tests", FORGERIES, ids=[f[0] for f in FORGERIES])
def test_assert_results_cannot_be_forged(name, program, tests, audit):
    """Issue 9, item 6: the tests ran in the program's process and reported their results
    over a pipe the program could write to, so a program could forge verdicts (to the fd,
    through the harness's frames, after the tests from atexit or a finalizer), read the
    expected values from the tests' code, or return objects whose __eq__ says yes."""
    r = run_python(program, asserts=tests, audit_hook=audit, **LIMITS)
    assert r.asserts == (False,) * tests.count("assert"), (name, r)
    assert CodeVerifier(**LIMITS)(program, {"asserts": tests}, {}).reward == 0.0, name


@pytest.mark.parametrize("tests", sorted(HONEST))
def test_the_forged_tests_pass_an_honest_program(tests):
    """The checks above can fail: the same tests pass a program that computes the answers."""
    r = run_python(HONEST[tests], asserts=tests, **LIMITS)
    assert r.asserts == (True,) * tests.count("assert") and r.status == "ok", r


JUDGE_SNOOP = """import os
found = []
for pid in [p for p in os.listdir('/proc') if p.isdigit()]:
    try:
        stat = open(f'/proc/{pid}/stat').read()
        cmdline = open(f'/proc/{pid}/cmdline', 'rb').read()
    except OSError:
        continue
    if b'_judge.py' in cmdline and int(stat.rsplit(')', 1)[1].split()[1]) == os.getppid():
        found.append(pid)
def open_fds(pid):  # the judge's verdict pipe among them
    fds = os.listdir(f'/proc/{pid}/fd')
    for fd in fds:
        try:
            os.close(os.open(f'/proc/{pid}/fd/{fd}', os.O_WRONLY if fd != '0' else os.O_RDONLY))
        except FileNotFoundError:  # the listing's own descriptor, closed since
            pass
for pid in found + ['self']:
    for what in ('mem', 'environ', 'fd'):
        try:
            open_fds(pid) if what == 'fd' else open(f'/proc/{pid}/{what}', 'rb').close()
            print(pid == 'self' and 'self' or 'judge', what, 'open')
        except OSError as e:
            print(pid == 'self' and 'self' or 'judge', what, type(e).__name__)
""" + WRONG


def test_the_judge_is_unreadable_without_landlock_or_the_audit_hook(layers):
    """The judge holds the tests: with Landlock and the audit hook off, /proc is open to the
    program, and the judge (same user, no capabilities either) must refuse it its memory,
    environment and descriptors (PR_SET_DUMPABLE 0). Its own /proc/self shows the reads work."""
    if not layers.get("seccomp"):
        pytest.skip("no seccomp here: a root program keeps its capabilities (see docs)")
    r = run_python(JUDGE_SNOOP, asserts=DOUBLE, audit_hook=False, landlock=False, **LIMITS)
    seen = sorted(r.stdout.split("\n"))
    assert seen == ["", "judge environ PermissionError", "judge fd PermissionError", "judge mem PermissionError",
                    "self environ open", "self fd open", "self mem open"], r
    assert r.asserts == (False, False)


PARENT_FDS = """import atexit, os
ends = []
for fd in os.listdir(f'/proc/{os.getppid()}/fd'):  # the parent's ends of every channel
    try:
        ends.append(os.open(f'/proc/{os.getppid()}/fd/{fd}', os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass
def forge():
    for end in ends:
        try:
            os.write(end, b'A 0 1\\nA 1 1\\nD\\n')
        except OSError:
            pass
forge()  # before the judge's own lines
atexit.register(forge)  # and after them
""" + WRONG
AS_USER = """import ctypes, json, sys
ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # dumpable again, as a process started by this user is
sys.path.insert(0, sys.argv[1])
from rlvr.verifiers.code import run_python
r = run_python(sys.argv[2], asserts=sys.argv[3], audit_hook=False, landlock=False, namespaces=False,
               timeout_s=1.0)
print(json.dumps([r.asserts, r.stderr]))
"""


def _runs_as_nobody(python):
    try:
        return subprocess.run([python, "-c", "import typing"], user=65534, group=65534, extra_groups=[],
                              capture_output=True, cwd="/").returncode == 0
    except OSError:  # not executable for nobody (a Python under /root, say)
        return False


def test_the_verdict_cannot_be_written_through_the_parents_descriptors():
    """Without Landlock and the audit hook, and where no user namespace separates them, a
    program may open /proc/<parent>/fd/N of a parent of its user that holds no capabilities
    (a trainer run as a normal user): a pipe's read end re-opens there as a write end, so a
    verdict pipe could take forged lines (found while fixing issue 9, item 6). The verdict
    channel is a socketpair, which /proc does not re-open. As root, whose capabilities the
    program lacks, a helper process runs the check as nobody."""
    args = [os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))), PARENT_FDS, DOUBLE]
    if os.geteuid() != 0:
        r = run_python(PARENT_FDS, asserts=DOUBLE, audit_hook=False, landlock=False, namespaces=False, **LIMITS)
        asserts, stderr = r.asserts, r.stderr
    else:
        python = next((p for p in (sys.executable, "/usr/bin/python3") if _runs_as_nobody(p)), None)
        if python is None:
            pytest.skip("no Python here that an unprivileged user may run")
        done = subprocess.run([python, "-c", AS_USER, *args], user=65534, group=65534, extra_groups=[],
                              capture_output=True, text=True, timeout=30, cwd="/")
        if done.returncode != 0:
            pytest.skip(f"the check cannot run as nobody here: {done.stderr.strip()[-200:]}")
        asserts, stderr = json.loads(done.stdout)
    assert "A 0 1" in stderr  # the program did open its parent's ends: its own stderr took the lines
    assert list(asserts) == [False, False]


@pytest.mark.parametrize("mode", ["asserts", "stdio"])
@pytest.mark.parametrize("leave", ["import sys\nsys.exit(0)", "import os\nos._exit(0)"])
def test_leaving_before_the_tests_passes_nothing(mode, leave):
    """Exiting with status 0 before the tests (or before printing) is never a pass."""
    if mode == "asserts":
        r = run_python(leave + WRONG.replace("0", "2 * x"), asserts=DOUBLE, **LIMITS)
        assert r.asserts == (False, False) and r.status == "error", r
        assert r.reason in ("program_error: SystemExit", "exit_before_tests"), r
    else:
        v = CodeVerifier(**LIMITS)(leave + "\nprint('done')", ONE_TEST, {})
        assert v.reward == 0.0 and v.info["reason"] == "wrong_answer", v.info


def _exact(value):
    """`value` with every type spelled out, so that 1 == 1.0 == True do not pass for each other."""
    if isinstance(value, (list, tuple, set, frozenset)):
        return type(value).__name__, sorted(map(repr, map(_exact, value))) if isinstance(value, (set, frozenset)) \
            else [_exact(v) for v in value]
    if isinstance(value, dict):
        return "dict", [(_exact(k), _exact(v)) for k, v in value.items()]
    return type(value).__name__, repr(value)


class Text(str):
    def __eq__(self, other):
        return True
    __hash__ = str.__hash__


PLAIN = [None, True, 0, -7, 2 ** 5000, -(2 ** 5000), 1.5, float("inf"), -0.0, 2j, "", "\ud800 é\n", b"\x00\xff",
         [1, [2.0, [True]]], (1,), (), {1: "a", (2, 3): [None], frozenset({4}): b""}, {1, "1"}, frozenset(), set()]
REDUCED = [  # (value of a subclass, the builtin value it travels as)
    (Text("no"), "no"), (collections.Counter("aab"), {"a": 2, "b": 1}),
    (collections.namedtuple("P", "x y")(1, 2), (1, 2)), (signal.SIGINT, int(signal.SIGINT)),
    (collections.OrderedDict(b=1), {"b": 1}),
]


@pytest.mark.parametrize("value", PLAIN, ids=repr)
def test_plain_data_arrives_with_its_exact_types(value):
    wire = json.loads(json.dumps(_plain.encode(value, ref=None)))
    assert _exact(_plain.decode(wire, deref=None)) == _exact(value)


@pytest.mark.parametrize("value, arrives", REDUCED, ids=lambda v: type(v).__name__)
def test_a_builtins_subclass_arrives_as_the_builtin_value(value, arrives):
    """Its overridden methods (Text's __eq__) play no part: the value is read with str's, dict's..."""
    wire = json.loads(json.dumps(_plain.encode(value, ref=None)))
    assert _exact(_plain.decode(wire, deref=None)) == _exact(arrives)


def test_other_objects_travel_as_handles():
    objects = []
    wire = _plain.encode([print, 1, {"k": [print]}], ref=lambda obj: objects.append(obj) or len(objects) - 1)
    assert objects == [print, print] and wire == {"l": [{"h": 0}, 1, {"d": [["k", {"l": [{"h": 1}]}]]}]}
    deep = []
    for _ in range(_plain.MAX_DEPTH + 5):
        deep = [deep]
    assert "h" in json.dumps(_plain.encode(deep, ref=lambda obj: 0))  # too deep: a handle somewhere down


@pytest.mark.parametrize("wire", [[1], {"l": [1], "t": []}, {"x": []}, {"h": True}, {"l": [[1]]}, {"s": [{"l": []}]},
                                  {"d": [[1]]}, {"c": ["1", 0]}, {"I": 5}])
def test_the_decoder_refuses_anything_out_of_format(wire):
    with pytest.raises((ValueError, TypeError)):
        _plain.decode(wire, deref=lambda n: n)
