"""The program's process: confines itself (`_confine.py`), then runs the model's program.

Started by `sandbox.run_python` as `python -I -S -B -X utf8 _child.py CONFIG`. Messages to the
parent go to a pipe (fd in CONFIG) as text lines: `I k=v ...` (isolation layers), `B <what>`
(blocked; the child then exits at once), `C <type>` (the program does not compile), `E <type>`
(the program raised, asserts mode), `A <i> <1|0> [error]` (one assert), `S <type>` (a setup
statement of the tests raised), `D` (all tests ran).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script's folder out
import _confine  # noqa: E402

del sys.path[0]
del sys.modules["_confine"]  # the program sees the standard library only


def main():
    import json
    with open(sys.argv[1], "rb") as f:
        cfg = json.loads(f.read())
    write, exit_now, out_fd = os.write, os._exit, cfg["result_fd"]

    def record(line):
        try:
            write(out_fd, (line.replace("\n", " ")[:300] + "\n").encode("utf-8", "replace"))
        except OSError:
            pass

    tests = []
    if cfg["asserts"] is not None:  # compiled now, before the program can touch ast/compile
        import ast
        tree = ast.parse(cfg["asserts"], "<tests>")
        tests = [(isinstance(n, ast.Assert), compile(ast.Module([n], []), "<tests>", "exec"))
                 for n in tree.body]
    iso = _confine.isolate(cfg)
    work = os.path.realpath(cfg["work"])
    if cfg["audit"]:
        _confine.disarm(record, exit_now)
        sys.addaudithook(_confine.audit_hook(work, record, exit_now))
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
    run = exec
    if not tests:
        run(code, main_module.__dict__)
        return
    try:
        run(code, main_module.__dict__)
    except BaseException as e:  # SystemExit too: leaving before the tests is not a pass
        record(f"E {type(e).__name__}")
        sys.stdout.flush()
        exit_now(1)
    index = 0
    for is_assert, test in tests:
        try:
            run(test, main_module.__dict__)
            ok, err = 1, ""
        except BaseException as e:
            ok, err = 0, type(e).__name__
        if is_assert:
            record(f"A {index} {ok} {err}")
            index += 1
        elif not ok:
            record(f"S {err}")
    record("D")


if __name__ == "__main__":
    main()
