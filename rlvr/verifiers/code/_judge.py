"""The judge: runs a reference's tests against the program, and is the only process whose word
on them the parent takes (asserts mode; see "The verdict channel" in docs/verifiers/code.md).

Started by `sandbox.run_python` as `python -I -S -B -X utf8 _judge.py`, its configuration on
stdin: an unnamed temporary file (O_TMPFILE) that the program's process can neither open nor
inherit. It confines itself as the program's process does (`_confine.py`), makes itself
undumpable, so that no process of its user without capabilities can read its memory or
descriptors, and only then tells the program to start.

The tests run here, one top-level statement at a time. The program's top-level names are
looked up over a pipe (`["get", name]`), its functions called with plain-data arguments, and
their results come back as plain data that `_plain.decode` builds into exact builtin types,
or as `Remote` handles. So the program never sees the tests or their expected values, and
every comparison a test makes runs here, on the judge's own objects.

Lines to the parent (fd in the configuration): `I k=v ...` (started; layers in force), `N`
(the program did not get through its top-level code: no test ran), `T <i>` (statement i
starts), `A <i> <1|0> [error]` (assert i), `S <type>` (another statement raised), `B <what>`
(a test did something blocked), `D` (all statements ran).
"""
import builtins
import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script's folder out
import _confine  # noqa: E402
import _plain  # noqa: E402

del sys.path[0]


class LinkError(Exception):
    """The program's process went away or answered out of protocol; no remote step runs after."""


class ProgramError(Exception):
    """The program raised something other than a builtin Exception (its own class, SystemExit)."""


_link = None  # the Link to the program's process, once the program is ready
_broken = False
_remotes = {}  # handle number -> Remote: one program object, one judge-side identity


def _ref(obj):
    if type(obj) is Remote:
        return obj._handle
    raise TypeError(f"a {type(obj).__name__} cannot be passed to the program: only plain data "
                    "and the program's own objects can")


def _remote(number):
    if number not in _remotes:
        _remotes[number] = Remote(number)
    return _remotes[number]


def _exception(name, message):
    """The program's exception, as a builtin Exception where it names one (so that a test's
    `except ValueError` works), else as a ProgramError. Never SystemExit or the like."""
    cls = getattr(builtins, name, None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        try:
            return cls(message)
        except Exception:  # e.g. UnicodeDecodeError wants five arguments
            pass
    return ProgramError(f"{name}: {message}")


def _ask(*request):
    """Sends one request; returns the program's answer, or raises its exception."""
    global _broken
    if _broken:
        raise LinkError("the program's process no longer answers")
    try:
        _link.send(list(request))
        reply = _link.recv()
        if type(reply) is list and len(reply) == 2 and reply[0] == "v":
            return _plain.decode(reply[1], _remote)
        if not (type(reply) is list and len(reply) == 3 and reply[0] == "e"
                and type(reply[1]) is str and type(reply[2]) is str):
            raise ValueError("not a reply")
    except Exception as e:  # EOF, a broken pipe, bad JSON, not plain data, too deep, too long...
        _broken = True
        raise LinkError(f"{type(e).__name__}: {e}") from None
    raise _exception(reply[1], reply[2])


class Remote:
    """An object of the program's that is not plain data: a function, a class, an instance...

    A test may call it, read its attributes and index it (arguments travel as plain data, or
    as Remotes), iterate it (the program sends the items as a list) and take its len(), str(),
    repr() and truth; each answer is plain data or another Remote. It equals only itself
    (object's identity __eq__ and __hash__): a program's __eq__ never decides a comparison,
    and the other side of a comparison never reaches the program. No ordering, no arithmetic.
    """
    __slots__ = ("_handle",)

    def __init__(self, handle):
        self._handle = handle

    def __getattr__(self, name):  # only for names a Remote lacks itself
        if name == "_handle":  # an instance made without __init__ (copy.copy)
            raise AttributeError(name)
        return _ask("attr", self._handle, name)

    def __call__(self, *args, **kwargs):
        encoded = [_plain.encode(a, _ref) for a in args]
        return _ask("call", self._handle, encoded, [[k, _plain.encode(v, _ref)] for k, v in kwargs.items()])

    def __getitem__(self, key):
        return _ask("item", self._handle, _plain.encode(key, _ref))

    def __iter__(self):
        items = _ask("iter", self._handle)
        if type(items) is not list:
            raise TypeError("the program's iteration did not come back as a list")
        return iter(items)

    def __len__(self):  # Python itself insists on an int here, a bool from __bool__, a str below
        return _ask("len", self._handle)

    def __bool__(self):
        return _ask("bool", self._handle)

    def __str__(self):
        return _ask("str", self._handle)

    def __repr__(self):
        return _ask("repr", self._handle)


# Names the tests judge with are the judge's own, whatever the program binds to them: a
# program's `abs = lambda x: 0` would pass `assert abs(f(x) - y) < 1e-9`, and its `math`
# (MBPP's tests use the solution's `import math`) may be patched: math.isclose = lambda *a: True.
_BUILTIN_NAMES = frozenset(dir(builtins))
_STDLIB = frozenset(getattr(sys, "stdlib_module_names", ())) - _confine.BLOCKED_IMPORTS  # Python >= 3.10


class Namespace(dict):
    """The tests' globals: their own names, then the program's top-level names other than
    builtins' (asked for at each use, so a test sees the program's current value; a standard
    library module among them is the judge's own import), then the builtins."""

    def __init__(self, program_names):
        super().__init__(__name__="__main__")
        self.program_names = frozenset(program_names) - _BUILTIN_NAMES

    def __missing__(self, name):
        if name not in self.program_names:
            raise KeyError(name)
        if name in _STDLIB:
            try:
                return importlib.import_module(name)
            except ImportError:  # not here (tkinter, say): then it is the program's object
                pass
        return _ask("get", name)


def _ready(link):
    """The program's top-level names once it has run, or None if it never got there."""
    try:
        link.send(["go"])
        reply = link.recv()
    except Exception:
        return None
    ok = (type(reply) is list and len(reply) == 2 and reply[0] == "ready" and type(reply[1]) is list
          and all(type(n) is str for n in reply[1]))
    return reply[1] if ok else None


def main():
    global _link
    import ast
    import json
    with open(0, "rb") as f:  # and closed: nothing of the configuration stays open
        cfg = json.loads(f.read())
    exit_now = os._exit
    record = _confine.recorder(cfg["result_fd"])

    tests = []
    for node in ast.parse(cfg["tests"], "<tests>").body:
        try:
            code = compile(ast.Module([node], []), "<tests>", "exec")
        except (SyntaxError, ValueError) as e:  # e.g. `return` outside a function
            code = e
        tests.append((isinstance(node, ast.Assert), code))
    iso = _confine.isolate(cfg, undumpable=True)
    if cfg["audit"]:
        _confine.disarm(record, exit_now)
        sys.addaudithook(_confine.audit_hook(os.path.realpath(cfg["work"]), record, exit_now))
    iso["audit"] = int(cfg["audit"])
    record("I " + " ".join(f"{k}={v or 0}" for k, v in iso.items()))
    link = _plain.Link(cfg["program_in"], cfg["program_out"])
    names = _ready(link)
    if names is None:
        record("N")
        return
    _link = link
    namespace = Namespace(names)
    index = 0
    for i, (is_assert, code) in enumerate(tests):
        record(f"T {i}")
        try:
            if isinstance(code, BaseException):
                raise code
            exec(code, namespace)
            ok, err = 1, ""
        except BaseException as e:  # whatever a test raises, it did not pass
            ok, err = 0, type(e).__name__
        if is_assert:
            record(f"A {index} {ok} {err}")
            index += 1
        elif not ok:
            record(f"S {err}")
    record("D")
    try:
        link.send(["bye"])
    except OSError:
        pass


if __name__ == "__main__":
    main()
