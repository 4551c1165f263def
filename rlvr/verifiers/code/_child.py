"""The program's process: confines itself (`_confine.py`), then runs the model's program.

Started by `sandbox.run_python` as `python -I -S -B -X utf8 _child.py CONFIG`. Lines to the
parent go to a pipe (fd in CONFIG): `I k=v ...` (the layers in force), `B <what>` (blocked;
the process then exits at once), `C <type>` (the program does not compile), `E <type>`
(asserts mode: the program raised before the tests). The program can write to that pipe as
well, so nothing on it can raise a reward: each of these lines only lowers one.

Asserts mode: the tests are not in this process. They run in the judge (`_judge.py`), which
asks, over a pair of pipes, for the program's top-level names, calls its functions with
plain-data arguments and gets plain data back (`_plain.py`). The side of that exchange that
runs here is a convenience for an honest program; a hostile one may rewrite it at will, and
then answers the judge's questions with values of its choosing — which its functions could
return anyway.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script's folder out
import _confine  # noqa: E402
import _plain  # noqa: E402

del sys.path[0]
del sys.modules["_confine"], sys.modules["_plain"]  # the program sees the standard library only


def _answer(request, namespace, deref):
    """What one request of the judge asks for; may run any of the program's code."""
    op = request[0]
    if op == "get":
        if request[1] not in namespace:
            raise NameError(f"name {request[1]!r} is not defined")
        return namespace[request[1]]
    target = deref(request[1])
    if op == "attr":
        return getattr(target, request[2])
    if op == "call":
        args = [_plain.decode(a, deref) for a in request[2]]
        return target(*args, **{k: _plain.decode(v, deref) for k, v in request[3]})
    if op == "item":
        return target[_plain.decode(request[2], deref)]
    conversions = {"iter": list, "len": len, "bool": bool, "str": str, "repr": repr}
    if op in conversions:
        return conversions[op](target)
    raise ValueError(f"unknown request {op!r}")


def _message(e):
    try:
        return str(e)[:200]
    except BaseException:  # the program's __str__
        return ""


def _serve(link, namespace):
    """Answers the judge until it says bye or goes away."""
    handles, numbers = [], {}

    def ref(obj):
        number = numbers.get(id(obj))
        if number is None:
            number = numbers[id(obj)] = len(handles)
            handles.append(obj)  # kept alive, so that its id is never reused for another object
        return number

    while True:
        try:
            request = link.recv()
        except EOFError:
            return
        if request[0] == "bye":
            return
        try:
            reply = ["v", _plain.encode(_answer(request, namespace, handles.__getitem__), ref)]
        except BaseException as e:  # SystemExit too: a function that exits fails its test, no more
            reply = ["e", type(e).__name__, _message(e)]
        link.send(reply)


def main():
    import json
    with open(sys.argv[1], "rb") as f:
        cfg = json.loads(f.read())
    exit_now = os._exit
    record = _confine.recorder(cfg["result_fd"])

    iso = _confine.isolate(cfg)
    if cfg["audit"]:
        _confine.disarm(record, exit_now)
        sys.addaudithook(_confine.audit_hook(os.path.realpath(cfg["work"]), record, exit_now))
    iso["audit"] = int(cfg["audit"])
    record("I " + " ".join(f"{k}={v or 0}" for k, v in iso.items()))
    try:
        code = compile(cfg["program"], "<program>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as e:
        record(f"C {type(e).__name__}")
        raise
    main_module = type(sys)("__main__")
    main_module.__builtins__ = __builtins__
    sys.modules["__main__"] = main_module
    sys.argv = ["main.py"]
    if cfg["judge"] is None:
        exec(code, main_module.__dict__)
        return
    link = _plain.Link(*cfg["judge"])
    try:  # the judge says go once no process of ours can read it (_judge.py)
        if link.recv() != ["go"]:
            exit_now(1)
    except (EOFError, OSError, ValueError):
        exit_now(1)  # the judge did not start; the parent reports it
    try:
        exec(code, main_module.__dict__)
    except BaseException as e:  # SystemExit too: leaving before the tests is not a pass
        record(f"E {type(e).__name__}")
        sys.stdout.flush()
        exit_now(1)
    link.send(["ready", [n for n in main_module.__dict__ if type(n) is str and not n.startswith("__")]])
    _serve(link, main_module.__dict__)


if __name__ == "__main__":
    main()
