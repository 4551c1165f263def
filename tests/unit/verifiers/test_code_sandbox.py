"""Hostile programs against the code sandbox: each one is contained, scores 0 with a reason,
and this test process carries on (issue 4, item 3). Time limits are 1 s so the file stays fast.

Every program runs twice where the machine allows it: with all layers, where the audit hook
names the reason, and with the audit hook off, to show that the kernel layers
(seccomp, Landlock, the network namespace) hold on their own. The verdict channel of asserts
mode (forged results, the judge process) is tested in test_code_verdicts.py.
"""
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

from rlvr.verifiers.code import CodeVerifier, run_python
from tests.unit.verifiers.sandbox_fixtures import LIMITS, ONE_TEST, layers, verifier  # noqa: F401 (fixtures)

# (name, program, expected reason prefix); every program would print "done" — and so score 1
# — if the operation before it were allowed to succeed silently.
HOSTILE = [
    ("infinite loop", "while True:\n    pass", "timeout"),
    ("sleep forever", "import time\ntime.sleep(3600)\nprint('done')", "timeout"),
    ("output closed, then spin", "import os\nos.close(1)\nos.close(2)\nwhile True:\n    pass", "timeout"),
    ("fork bomb", "import os\nwhile True:\n    os.fork()\nprint('done')", "blocked: fork"),
    ("subprocess bomb", "import subprocess\nwhile True:\n    subprocess.Popen(['sleep', '100'])",
     "blocked: subprocess"),
    ("os.system", "import os\nos.system('echo done')", "blocked: subprocess"),
    ("multiprocessing", "import multiprocessing as mp\nmp.Process(target=print).start()\nprint('done')",
     "blocked"),
    ("raw spawn", "import _posixsubprocess\n_posixsubprocess.fork_exec()", "blocked: subprocess"),
    ("memory bomb", "x = bytearray(10 * 1024**3)\nprint('done')", "memory"),
    ("memory bomb, list", "x = [0] * (10**10)\nprint('done')", "memory"),
    ("print gigabytes", "while True:\n    print('x' * 10**6)", "output_limit"),
    ("stderr gigabytes", "import sys\nwhile True:\n    sys.stderr.write('x' * 10**6)", "output_limit"),
    ("kill parent", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nprint('done')", "blocked: kill"),
    ("killpg parent", "import os, signal\nos.killpg(os.getpgid(os.getppid()), signal.SIGKILL)\nprint('done')",
     "blocked: kill"),
    # signal 0 probes without harm: were the guard broken, SIGKILL to -1 would hit every process
    ("kill everyone", "import os\nos.kill(-1, 0)\nprint('done')", "blocked: kill"),
    ("ctypes", "import ctypes\nctypes.CDLL(None).fork()\nprint('done')", "blocked: import ctypes"),
    ("trace hook", "import sys\nsys.settrace(lambda *a: None)\nprint('done')", "blocked: trace"),
    ("raise limits", "import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))\nprint('done')",
     "blocked: setrlimit"),
    ("deep recursion", "import sys\nsys.setrecursionlimit(10**9)\nf = lambda n: f(n + 1)\nf(0)", None),
    ("huge file", "with open('big', 'wb') as f:\n    f.write(b'x' * (64 << 20))\nprint('done')", "file_limit"),
    ("sys.exit(0) before printing", "import sys\nsys.exit(0)", "wrong_answer"),
    ("os._exit(0) before printing", "import os\nos._exit(0)", "wrong_answer"),
]


@pytest.mark.parametrize("name, program, reason", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_program_is_contained(verifier, name, program, reason):
    start = time.monotonic()
    verdict = verifier(f"```python\n{program}\n```", ONE_TEST, {})
    assert verdict.reward == 0.0, (name, verdict)
    assert verdict.info.get("reason"), name
    if reason is not None:
        assert verdict.info["reason"].startswith(reason), (name, verdict.info)
    assert time.monotonic() - start < 4.0, name  # 1 s limit + start-up; never the program's whim


def test_printing_gigabytes_stops_at_the_cap_quickly():
    start = time.monotonic()
    r = run_python("while True:\n    print('x' * 10**6)", **LIMITS)
    assert r.status == "output_limit"
    assert len(r.stdout) <= LIMITS["max_output_bytes"]  # never buffered past the cap
    assert time.monotonic() - start < 1.0


def test_memory_bomb_reports_memory():
    r = run_python("x = bytearray(10 * 1024**3)", **LIMITS)
    assert (r.status, r.reason) == ("memory", "memory")


def test_infinite_loop_is_killed_near_the_limit():
    r = run_python("while True:\n    pass", timeout_s=0.5)
    assert r.status == "timeout" and r.returncode == -signal.SIGKILL
    assert r.duration_s < 0.5 + 0.5 + 0.5  # limit + start-up grace + slack


WRITES = [
    ("absolute path", "open({target!r}, 'w').write('pwned')"),
    ("relative escape", "import os\nos.chdir('..')\nopen(os.path.relpath({target!r}), 'w').write('pwned')"),
    ("symlink out", "import os\nos.symlink(os.path.dirname({target!r}), 'out')\n"
                    "open(os.path.join('out', os.path.basename({target!r})), 'w').write('pwned')"),
    ("dir_fd", "import os\nd = os.open(os.path.dirname({target!r}), os.O_RDONLY)\n"
               "fd = os.open(os.path.basename({target!r}), os.O_WRONLY | os.O_CREAT, dir_fd=d)\n"
               "os.write(fd, b'pwned')"),
    ("rename in", "open('x', 'w').write('pwned')\nimport os\nos.rename('x', {target!r})"),
]


@pytest.mark.parametrize("audit", [True, False], ids=["all layers", "kernel only"])
@pytest.mark.parametrize("name, template", WRITES, ids=[w[0] for w in WRITES])
def test_writing_outside_the_working_folder_lands_nowhere(tmp_path, layers, name, template, audit):
    if not audit and not layers.get("landlock"):
        pytest.skip("no Landlock here: only the audit hook guards writes (see docs/verifiers/code.md)")
    target = str(tmp_path / "escape.txt")
    program = template.format(target=target) + "\nprint('done')"
    r = run_python(program, audit_hook=audit, **LIMITS)
    assert r.status != "ok" and "done" not in r.stdout, r
    assert not os.path.exists(target)
    if audit:
        assert r.reason.startswith("blocked"), r
        v = CodeVerifier(**LIMITS)(program, ONE_TEST, {})
        assert v.reward == 0.0 and v.info["reason"].startswith("blocked")
        assert not os.path.exists(target)


def test_many_files_cannot_fill_the_disk(layers):
    if not layers.get("tmpfs"):
        pytest.skip("no private tmpfs here: files are deleted afterwards but not capped in total")
    r = run_python("for i in range(1000):\n    open(f'f{i}', 'wb').write(b'x' * (4 << 20))\nprint('done')",
                   max_disk_bytes=16 << 20, **LIMITS)
    assert (r.status, r.reason) == ("file_limit", "file_limit") and "done" not in r.stdout


def test_files_outside_are_unreadable_with_landlock(tmp_path, layers):
    """E.g. a dataset file holding the expected outputs: reading it would be reward hacking."""
    if not layers.get("landlock"):
        pytest.skip("no Landlock here: the program can read what the user can (see docs/verifiers/code.md)")
    answers = tmp_path / "answers.jsonl"
    answers.write_text("expected-output-42")
    r = run_python(f"print(open({str(answers)!r}).read())", audit_hook=False, **LIMITS)
    assert "expected-output-42" not in r.stdout and "PermissionError" in r.stderr


def test_working_folder_is_private_and_deleted():
    r = run_python("import os\nopen('scratch.txt', 'w').write('ok')\nprint(os.getcwd())\n"
                   "print(open('scratch.txt').read())", **LIMITS)
    assert r.status == "ok", r
    cwd, content = r.stdout.split()
    assert content == "ok" and os.path.basename(cwd) == "work"
    assert not os.path.exists(cwd) and not os.path.exists(os.path.dirname(cwd))


@pytest.mark.parametrize("audit", [True, False], ids=["all layers", "kernel only"])
def test_parent_environment_is_not_visible(monkeypatch, verifier, layers, audit):
    secret = "canary-7f3a9c"
    monkeypatch.setenv("RLVR_TEST_SECRET", secret)
    env = run_python("import os\nprint(sorted(os.environ))", **LIMITS)
    assert env.stdout.strip() == str(sorted(["HOME", "LANG", "LC_ALL", "PATH", "TMPDIR"]))
    program = "import os\nprint(os.environ.get('RLVR_TEST_SECRET'))"
    assert verifier(program, {"tests": [{"stdin": "", "stdout": secret}]}, {}).reward == 0.0
    if not audit and not layers.get("landlock"):
        pytest.skip("without Landlock only the audit hook guards /proc/<parent>/environ")
    proc = ("import os\ndata = open(f'/proc/{os.getppid()}/environ', 'rb').read()\n"
            "print(data.decode(errors='replace'))")
    r = run_python(proc, audit_hook=audit, **LIMITS)
    assert secret not in r.stdout and r.status != "ok", r
    if audit:
        assert r.reason == "blocked: proc"


@pytest.fixture
def server():
    """A TCP server on 127.0.0.1 that records every connection it accepts."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.1)
    seen, stop = [], threading.Event()

    def accept():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except (socket.timeout, OSError):
                continue
            seen.append(conn.recv(100))
            conn.close()
    t = threading.Thread(target=accept, daemon=True)
    t.start()
    yield srv.getsockname()[1], seen
    stop.set()
    t.join(2)
    srv.close()


def test_server_fixture_sees_a_normal_client(server):
    """The check below must be able to fail: a client outside the sandbox is seen."""
    port, seen = server
    with socket.create_connection(("127.0.0.1", port)) as c:
        c.sendall(b"hello")
    deadline = time.monotonic() + 2
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen == [b"hello"]


@pytest.mark.parametrize("audit", [True, False], ids=["all layers", "kernel only"])
@pytest.mark.parametrize("kind", ["tcp", "udp"])
def test_socket_reaches_nothing(server, verifier, layers, audit, kind):
    if not audit and not (layers.get("seccomp") or layers.get("netns")):
        pytest.skip("no seccomp and no network namespace here: only the audit hook blocks sockets")
    port, seen = server
    if kind == "tcp":
        program = (f"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=0.5)\n"
                   "s.sendall(b'leak')\nprint('done')")
    else:
        program = (f"import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
                   f"s.sendto(b'leak', ('127.0.0.1', {port}))\nprint('done')")
    r = run_python(program, audit_hook=audit, **LIMITS)
    assert r.status != "ok" and "done" not in r.stdout, r
    if audit:
        assert r.reason == "blocked: socket"
        assert verifier(program, ONE_TEST, {}).info["reason"] == "blocked: socket"
    time.sleep(0.2)
    assert seen == []


@pytest.mark.parametrize("how", ["os.kill(os.getppid(), signal.SIGKILL)",
                                 "os.killpg(os.getpgid(os.getppid()), signal.SIGKILL)",
                                 "os.kill(0, signal.SIGKILL)",
                                 "signal.pidfd_send_signal(os.pidfd_open(os.getppid()), signal.SIGKILL)"])
@pytest.mark.parametrize("audit", [True, False], ids=["all layers", "kernel only"])
def test_the_parent_survives_kill_attempts(layers, how, audit):
    if not audit and not layers.get("seccomp"):
        pytest.skip("no seccomp here: without the audit hook the kernel would let this through")
    me = os.getpid()
    r = run_python(f"import os, signal\n{how}\nprint('done')", audit_hook=audit, **LIMITS)
    assert os.getpid() == me  # still here: this line ran
    assert r.status != "ok" and "done" not in r.stdout, r
    if audit:
        assert r.reason == "blocked: kill"


@pytest.fixture
def bystander():
    """A process of the same user that the program has no business signalling."""
    p = subprocess.Popen(["sleep", "30"])
    yield p
    p.kill()
    p.wait()


# fcntl(2) "Managing signals": with an owner set (F_SETOWN, or F_SETOWN_EX with a struct
# f_owner_ex {F_OWNER_PID = 1, pid}) and O_ASYNC, a write to the pipe makes the kernel send
# SIGIO to that owner — any process the program's user may signal, any at all as root.
SIGIO = {
    "F_SETOWN": "fcntl.fcntl(r, fcntl.F_SETOWN, {pid})",
    "F_SETOWN_EX": "fcntl.fcntl(r, 15, struct.pack('ii', 1, {pid}))",
}
SIGIO_PROGRAM = ("import fcntl, os, struct\nr, w = os.pipe()\n{how}\n"
                 "fcntl.fcntl(r, fcntl.F_SETFL, os.O_ASYNC)\nos.write(w, b'x')\nprint('done')")
SIGIO_LAYERS = {"all layers": {}, "kernel only": dict(audit_hook=False),
                "seccomp without Landlock": dict(audit_hook=False, landlock=False)}


@pytest.mark.parametrize("how", sorted(SIGIO))
@pytest.mark.parametrize("switches", sorted(SIGIO_LAYERS))
def test_sigio_cannot_reach_another_process(layers, bystander, how, switches):
    """Issue 9, item 7: fcntl(F_SETOWN) + O_ASYNC had the kernel signal a pid of the
    program's choosing (a same-user process killed, reward 1.0) wherever Landlock ABI < 6
    (Linux < 6.12) left signals unscoped; seccomp now refuses F_SETOWN/F_SETOWN_EX/F_SETSIG."""
    if switches != "all layers" and not layers.get("seccomp"):
        pytest.skip("no seccomp here: only the audit hook (and Landlock ABI >= 6) stop this")
    program = SIGIO_PROGRAM.format(how=SIGIO[how].format(pid=bystander.pid))
    r = run_python(program, **SIGIO_LAYERS[switches], **LIMITS)
    time.sleep(0.1)  # a signal, had one been sent, has arrived
    assert bystander.poll() is None, r
    assert r.status != "ok" and "done" not in r.stdout, r
    if switches == "all layers":
        assert r.reason == "blocked: kill"
    else:
        assert "PermissionError" in r.stderr, r


def test_sigio_reaches_a_bystander_when_no_layer_stops_it(bystander):
    """The check above can fail: with every layer off the kernel delivers the SIGIO."""
    program = SIGIO_PROGRAM.format(how=SIGIO["F_SETOWN"].format(pid=bystander.pid))
    run_python(program, audit_hook=False, kernel_layers=False, **LIMITS)
    assert bystander.wait(2) == -signal.SIGIO


def test_setsig_is_refused_without_landlock(layers):
    """F_SETSIG picks the signal an owner gets (SIGKILL, say): refused with F_SETOWN."""
    if not layers.get("seccomp"):
        pytest.skip("no seccomp here")
    r = run_python("import fcntl, os\nr, w = os.pipe()\nfcntl.fcntl(r, 10, 9)\nprint('done')",
                   audit_hook=False, landlock=False, **LIMITS)
    assert "done" not in r.stdout and "PermissionError" in r.stderr, r


def test_fork_is_refused_by_the_kernel_too(layers):
    if not layers.get("seccomp") and os.geteuid() == 0:
        pytest.skip("root without seccomp: RLIMIT_NPROC does not bind root")
    r = run_python("import os\nos.fork()\nprint('done')", audit_hook=False, **LIMITS)
    assert r.status == "error" and "done" not in r.stdout
    assert "Error" in r.stderr  # PermissionError (seccomp) or BlockingIOError (RLIMIT_NPROC)


def test_threads_are_refused(layers):
    if not layers.get("seccomp") and os.geteuid() == 0:
        pytest.skip("root without seccomp: RLIMIT_NPROC does not bind root")
    r = run_python("import threading\nthreading.Thread(target=print).start()\nprint('done')", **LIMITS)
    assert r.status == "error" and "can't start new thread" in r.stderr


def test_isolation_is_reported(layers, verifier):
    assert layers.get("audit") == 1
    assert set(layers) == {"netns", "tmpfs", "rlimits", "landlock", "caps", "seccomp", "audit"}
    assert layers["rlimits"] == 6  # CPU, AS, NPROC, FSIZE, NOFILE, CORE: all POSIX
    info = verifier("print('done')", ONE_TEST, {}).info
    assert "audit" in info["isolation"]


def test_concurrent_runs_do_not_mix(verifier):
    """`run_python` is called from threads (the verifier's `workers`): no output crosses over."""
    results = [None] * 6

    def go(i):
        results[i] = run_python(f"print({i} * 7)", **LIMITS)
    threads = [threading.Thread(target=go, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.stdout.strip() for r in results] == [str(i * 7) for i in range(6)]


def test_the_run_continues_after_all_of_it(verifier):
    assert verifier("print('done')", ONE_TEST, {}).reward == 1.0
