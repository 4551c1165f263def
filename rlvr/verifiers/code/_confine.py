"""The sandbox's confinement layers, applied by a sandboxed process to itself.

Imported by `_child.py` (the program's process) and `_judge.py` (the tests' process), both
started by `sandbox.run_python` as `python -I -S -B -X utf8 SCRIPT` (stdlib only: nothing of
rlvr is importable there). Each layer is best-effort and reported to the parent:

1. namespaces: `unshare(CLONE_NEWNET|CLONE_NEWNS)` (root) or the same with CLONE_NEWUSER
   (unprivileged user namespaces) — a network namespace with no usable interface, and a
   private mount namespace in which the working folder becomes a size-limited tmpfs;
   unshare(2), user_namespaces(7), mount_namespaces(7);
2. `PR_SET_PDEATHSIG` = SIGKILL: the process dies with the thread that started it; prctl(2);
3. resource limits: CPU, address space, processes (0: no fork, no threads), file size,
   open files, core dumps; setrlimit(2);
4. Landlock: writes only beneath the working folder, reads only beneath the Python
   installation and system library folders, no TCP (ABI >= 4), no signals to processes
   outside the sandbox (ABI >= 6); landlock(7);
5. capabilities dropped (matters when run as root); capset(2);
6. seccomp filter: no fork/clone/exec, no sockets, no ptrace, signals only to itself
   (kill and its kin; no fcntl F_SETOWN, whose SIGIO would reach others), no raising of
   resource limits; seccomp(2), Documentation/userspace-api/seccomp_filter.rst;
7. a Python audit hook (PEP 578), which cannot be removed: blocks process creation,
   sockets, ctypes, writes outside the working folder, other processes' /proc entries,
   signals to other processes (fcntl F_SETOWN included), tracing hooks. It is the last line
   and the one that names the reason ("blocked: socket"); it is not a security boundary on
   its own: it runs Python code (path resolution) that a program can replace.
"""
import os
import sys

BLOCKED_EXIT = 86
BLOCKED_IMPORTS = frozenset({"ctypes", "_ctypes", "_posixsubprocess", "_signal", "posix"})
"""Modules the audit hook refuses to import (their functions act without audit events)."""
_CLONE_NEWUSER, _CLONE_NEWNET, _CLONE_NEWNS = 0x10000000, 0x40000000, 0x00020000
_MS_NOSUID, _MS_NODEV, _MS_REC, _MS_PRIVATE = 2, 4, 1 << 14, 1 << 18
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP = 1, 4, 38, 22

# fcntl commands that name the process the kernel signals about a descriptor (SIGIO, SIGURG,
# or the signal chosen by F_SETSIG): F_SETOWN, F_SETSIG, F_SETOWN_EX; fcntl(2), "Managing signals".
_FCNTL_SIGNAL_OWNER = (8, 10, 15)
# Syscall numbers (arch/x86/entry/syscalls/syscall_64.tbl; include/uapi/asm-generic/unistd.h).
_SYSCALLS = {
    "x86_64": dict(
        audit_arch=0xC000003E, landlock=(444, 445, 446), capset=126,
        deny=[57, 58, 56, 435, 59, 322, 41, 53, 101, 310, 311, 434, 424, 438, 425, 160, 200,
              272, 308, 165, 321, 323, 298, 250, 248, 249],
        # fork vfork clone clone3 execve execveat socket socketpair ptrace process_vm_readv/writev
        # pidfd_open pidfd_send_signal pidfd_getfd io_uring_setup setrlimit tkill unshare setns
        # mount bpf userfaultfd perf_event_open keyctl add_key request_key
        self_pid=[62, 234, 129, 297],  # kill tgkill rt_sigqueueinfo rt_tgsigqueueinfo
        prlimit=302, fcntl=72),
    "aarch64": dict(
        audit_arch=0xC00000B7, landlock=(444, 445, 446), capset=91,
        deny=[220, 435, 221, 281, 198, 199, 117, 270, 271, 434, 424, 438, 425, 164, 130,
              97, 268, 40, 280, 282, 241, 219, 217, 218],
        self_pid=[129, 131, 138, 240],
        prlimit=261, fcntl=25),
}


def recorder(out_fd):
    """`record(line)`: one status line to the parent on `out_fd` — newlines flattened, at most
    300 characters — that never raises (the parent may already be gone)."""
    write = os.write

    def record(line):
        try:
            write(out_fd, (line.replace("\n", " ")[:300] + "\n").encode("utf-8", "replace"))
        except OSError:
            pass
    return record


def _libc():
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return ctypes, libc


def _write_file(path, text):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, text.encode())
    finally:
        os.close(fd)


def _namespaces(ctypes, libc):
    """New network and mount namespaces: as root directly, else inside a new user namespace
    that maps only our own uid and gid. Returns the label, or "" when neither is allowed."""
    flags = _CLONE_NEWNET | _CLONE_NEWNS
    if os.geteuid() == 0 and libc.unshare(ctypes.c_int(flags)) == 0:
        return "netns"
    uid, gid = os.geteuid(), os.getegid()
    if libc.unshare(ctypes.c_int(_CLONE_NEWUSER | flags)) != 0:
        return ""
    _write_file("/proc/self/setgroups", "deny")
    _write_file("/proc/self/uid_map", f"{uid} {uid} 1")
    _write_file("/proc/self/gid_map", f"{gid} {gid} 1")
    return "userns+netns"


def _tmpfs(ctypes, libc, work, size):
    """Mounts a size-limited tmpfs on the working folder, in our private mount namespace:
    the program's files cannot fill the disk, and vanish with the namespace. mount(2)."""
    private = libc.mount(b"none", b"/", None, ctypes.c_ulong(_MS_REC | _MS_PRIVATE), None) == 0
    options = f"size={size},mode=0700".encode()
    if not private or libc.mount(b"tmpfs", work.encode(), b"tmpfs", ctypes.c_ulong(_MS_NOSUID | _MS_NODEV),
                                 options) != 0:
        return 0
    os.chdir(work)  # the old cwd is the folder under the mount
    return 1


def _prctl(ctypes, libc, option, arg):
    c = ctypes.c_ulong
    return libc.prctl(ctypes.c_int(option), c(arg), c(0), c(0), c(0))


def _rlimits(cfg):
    """Sets what the platform allows (macOS, e.g., refuses some RLIMIT_AS values); returns
    the number of limits in force."""
    import resource
    cpu = int(cfg["cpu_s"])
    limits = [("RLIMIT_CPU", cpu, cpu + 1), ("RLIMIT_AS", cfg["memory_bytes"], cfg["memory_bytes"]),
              ("RLIMIT_NPROC", 0, 0), ("RLIMIT_FSIZE", cfg["max_file_bytes"], cfg["max_file_bytes"]),
              ("RLIMIT_NOFILE", 32, 32), ("RLIMIT_CORE", 0, 0)]
    done = 0
    for name, soft, hard in limits:
        try:
            resource.setrlimit(getattr(resource, name), (soft, hard))
            done += 1
        except (AttributeError, ValueError, OSError):
            pass
    return done


def _landlock(ctypes, libc, nr, work):
    """Landlock ABI version in force (0: none). Reads are confined too, so that the program
    cannot read /proc/<parent>/environ or the user's files."""
    import stat
    create, add_rule, restrict = nr
    L = ctypes.c_long
    abi = libc.syscall(L(create), None, L(0), L(1))  # LANDLOCK_CREATE_RULESET_VERSION
    if abi < 1:
        return 0
    fs_all = (1 << 13) - 1  # EXECUTE .. MAKE_SYM (ABI 1)
    fs_all |= (1 << 13) if abi >= 2 else 0  # REFER
    fs_all |= (1 << 14) if abi >= 3 else 0  # TRUNCATE
    fs_all |= (1 << 15) if abi >= 5 else 0  # IOCTL_DEV
    read = 1 | 4 | 8  # EXECUTE READ_FILE READ_DIR
    file_only = 1 | 2 | 4 | (1 << 14) | (1 << 15)  # rights that apply to a file
    net = 3 if abi >= 4 else 0  # BIND_TCP CONNECT_TCP, with no rule: all TCP denied
    scoped = 3 if abi >= 6 else 0  # ABSTRACT_UNIX_SOCKET SIGNAL

    class Attr(ctypes.Structure):
        _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    attr = Attr(fs_all, net, scoped)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = libc.syscall(L(create), ctypes.byref(attr), L(size), L(0))
    if ruleset < 0:
        return 0
    rules = [(work, fs_all), ("/dev/null", 2 | 4 | (1 << 14)), ("/dev/urandom", 4), ("/dev/zero", 4),
             ("/usr", read), ("/lib", read), ("/lib64", read), ("/etc/ld.so.cache", read),
             ("/etc/localtime", read)]
    roots = {sys.base_prefix, sys.base_exec_prefix, *sys.path}  # not a venv's prefix: no site-packages
    rules += [(p, read) for p in sorted(roots) if p]
    for path, rights in rules:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                rights &= file_only
            rule = PathBeneath(rights & fs_all, fd)
            libc.syscall(L(add_rule), L(ruleset), L(1), ctypes.byref(rule), L(0))
        finally:
            os.close(fd)
    _prctl(ctypes, libc, _PR_SET_NO_NEW_PRIVS, 1)
    ok = libc.syscall(L(restrict), L(ruleset), L(0)) == 0
    os.close(ruleset)
    return abi if ok else 0


def _drop_caps(ctypes, libc):
    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    data = (ctypes.c_uint32 * 6)()  # two {effective, permitted, inheritable}, all zero
    return libc.capset(ctypes.byref(Header(0x20080522, 0)), data) == 0  # _LINUX_CAPABILITY_VERSION_3


def _seccomp(ctypes, libc, table):
    """A classic-BPF filter over (arch, syscall nr, args); denied calls fail with EPERM."""
    class Insn(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                    ("k", ctypes.c_uint32)]

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Insn))]

    LD, JEQ, JGE, RET = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, JGE|K, BPF_RET|K
    ALLOW, EPERM = 0x7FFF0000, 0x00050000 | 1
    me = os.getpid()
    p = [(LD, 0, 0, 4), (JEQ, 1, 0, table["audit_arch"]), (RET, 0, 0, EPERM), (LD, 0, 0, 0)]
    if table["audit_arch"] == 0xC000003E:
        p += [(JGE, 0, 1, 0x40000000), (RET, 0, 0, EPERM)]  # x32 ABI calls
    for n in table["deny"]:
        p += [(JEQ, 0, 1, n), (RET, 0, 0, EPERM)]
    for n in table["self_pid"]:  # first argument (pid/tgid) must be this process
        p += [(JEQ, 0, 4, n), (LD, 0, 0, 16), (JEQ, 0, 1, me), (RET, 0, 0, ALLOW), (RET, 0, 0, EPERM)]
    # fcntl may not set a signal owner: the kernel would send SIGIO (F_SETSIG: any signal) to
    # that pid when the descriptor is ready, which Landlock scopes only from ABI 6 (Linux 6.12).
    # `cmd` is an unsigned int (fs/fcntl.c), so the low word of args[1] (offset 24) is all of it.
    a, b, c = _FCNTL_SIGNAL_OWNER
    p += [(JEQ, 0, 6, table["fcntl"]), (LD, 0, 0, 24), (JEQ, 3, 0, a), (JEQ, 2, 0, b), (JEQ, 1, 0, c),
          (RET, 0, 0, ALLOW), (RET, 0, 0, EPERM)]
    # prlimit64 may read limits, not set them: its third argument (new limit) must be NULL
    p += [(JEQ, 0, 6, table["prlimit"]), (LD, 0, 0, 32), (JEQ, 0, 3, 0), (LD, 0, 0, 36),
          (JEQ, 0, 1, 0), (RET, 0, 0, ALLOW), (RET, 0, 0, EPERM)]
    p += [(RET, 0, 0, ALLOW)]
    insns = (Insn * len(p))(*[Insn(*i) for i in p])
    prog = Prog(len(p), insns)
    _prctl(ctypes, libc, _PR_SET_NO_NEW_PRIVS, 1)
    return libc.prctl(ctypes.c_int(_PR_SET_SECCOMP), ctypes.c_ulong(2), ctypes.byref(prog),
                      ctypes.c_ulong(0), ctypes.c_ulong(0)) == 0


def isolate(cfg, undumpable=False):
    """Applies the kernel layers; returns what is in force, by name. `undumpable` (the
    judge): PR_SET_DUMPABLE 0, so that a process of the same user without capabilities may
    neither ptrace this one nor open its /proc/<pid>/mem, fd/ or environ (ptrace(2), "Ptrace
    access mode checking"); set after the namespaces, whose uid_map it would make unwritable."""
    iso = {"netns": "", "tmpfs": 0, "rlimits": 0, "landlock": 0, "caps": 0, "seccomp": 0}
    linux = sys.platform.startswith("linux")
    ctypes, libc = _libc()
    table = _SYSCALLS.get(os.uname().machine) if linux else None
    if linux and cfg["namespaces"]:
        try:
            iso["netns"] = _namespaces(ctypes, libc)
            iso["tmpfs"] = _tmpfs(ctypes, libc, cfg["work"], cfg["max_disk_bytes"]) if iso["netns"] else 0
        except OSError:
            pass
    if linux and undumpable:
        iso["undumpable"] = int(_prctl(ctypes, libc, _PR_SET_DUMPABLE, 0) == 0)
    if linux:
        _prctl(ctypes, libc, _PR_SET_PDEATHSIG, 9)
    if os.getppid() != cfg["parent_pid"]:  # the parent died before PDEATHSIG was set
        os._exit(BLOCKED_EXIT)
    iso["rlimits"] = _rlimits(cfg)
    if table and cfg["kernel_layers"]:
        if cfg["landlock"]:
            iso["landlock"] = _landlock(ctypes, libc, table["landlock"], cfg["work"])
        iso["caps"] = int(_drop_caps(ctypes, libc))
        iso["seccomp"] = int(_seccomp(ctypes, libc, table))
    for name in [m for m in sys.modules if m == "ctypes" or m.startswith(("ctypes.", "_ctypes"))]:
        del sys.modules[name]  # importing it again raises the audit event that blocks it
    return iso


def audit_hook(work, record, exit_now):
    """The Python-level guard (PEP 578). Runs on every audited event of the program."""
    import stat
    me = os.getpid()
    realpath, join, isabs, readlink, fspath = (os.path.realpath, os.path.join, os.path.isabs,
                                                os.readlink, os.fsdecode)
    stat_of = os.stat
    process = {"os.fork": "fork", "os.forkpty": "fork", "os.system": "subprocess",
               "os.exec": "exec", "os.posix_spawn": "subprocess", "os.spawn": "subprocess",
               "subprocess.Popen": "subprocess", "sys.settrace": "trace", "sys.setprofile": "trace",
               "gc.get_objects": "gc", "gc.get_referrers": "gc", "gc.get_referents": "gc",
               "resource.setrlimit": "setrlimit", "resource.prlimit": "setrlimit"}
    # event -> (index of a path argument, index of its dir_fd argument or None), per CPython's
    # audit events table (docs.python.org/3/library/audit_events.html)
    writes = {"os.remove": [(0, 1)], "os.rmdir": [(0, 1)], "os.mkdir": [(0, 2)],
              "os.rename": [(0, 2), (1, 3)], "os.link": [(0, 2), (1, 3)], "os.symlink": [(1, 2)],
              "os.chmod": [(0, 2)], "os.chown": [(0, 3)], "os.utime": [(0, 3)],
              "os.truncate": [(0, None)], "os.setxattr": [(0, None)], "os.removexattr": [(0, None)],
              "shutil.rmtree": [(0, 1)], "shutil.copyfile": [(1, None)], "shutil.move": [(1, None)]}
    mask = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
    busy = []

    def resolve(path, dir_fd=None):
        if isinstance(path, int):
            return None  # an fd: it came from an open that was checked
        path = fspath(path)
        if dir_fd is not None and dir_fd >= 0 and not isabs(path):
            path = join(readlink(f"/proc/self/fd/{dir_fd}"), path)
        return realpath(path)

    def inside(real):
        return real is None or real == work or real.startswith(work + "/")

    def block(what):
        record(f"B {what}")
        exit_now(BLOCKED_EXIT)

    def hook(event, args):
        if busy:  # events raised by the checks themselves
            return
        busy.append(1)
        try:
            check(event, args)
        finally:
            busy.pop()

    def check(event, args):
        if event in process:
            block(process[event])
        elif event.startswith("socket."):
            block("socket")
        elif event.startswith("ctypes."):
            block("ctypes")
        elif event == "import" and args[0].partition(".")[0] in BLOCKED_IMPORTS:
            block(f"import {args[0]}")
        elif event == "os.kill" and args[0] != me:
            block("kill")
        elif event == "os.killpg" and args[0] != me:
            block("kill")
        elif event == "fcntl.fcntl" and args[1] in _FCNTL_SIGNAL_OWNER:
            block("kill")
        elif event == "open":
            path, mode, flags = args
            real = resolve(path)
            if real is None:
                return
            if real.startswith("/proc/") and real.split("/")[2].isdigit() and real.split("/")[2] != str(me):
                block("proc")
            writing = bool((flags or 0) & mask) or (isinstance(mode, str) and any(c in mode for c in "wax+"))
            if writing and not inside(real) and real != "/dev/null":
                block("write outside the working folder")
            if not inside(real):
                try:
                    if stat.S_ISDIR(stat_of(real).st_mode):  # a dir fd would let os.open(dir_fd=) escape
                        block("directory outside the working folder")
                except OSError:
                    pass
        elif event in writes:
            for i, j in writes[event]:
                dir_fd = args[j] if j is not None and j < len(args) and isinstance(args[j], int) else None
                if i < len(args) and not inside(resolve(args[i], dir_fd)):
                    block("write outside the working folder")

    return hook


def disarm(record, exit_now):
    """Replaces the functions that act on other processes without raising an audit event
    (`_posixsubprocess.fork_exec`, pidfd signals) by ones that report and exit. The modules
    stay importable; re-importing the C modules is blocked by the hook, and reloading a
    built-in module does not restore its functions."""
    def stub(what):
        def blocked(*args, **kwargs):
            record(f"B {what}")
            exit_now(BLOCKED_EXIT)
        return blocked

    import _posixsubprocess
    import _signal
    import posix
    _posixsubprocess.fork_exec = stub("subprocess")
    for module in (_signal, sys.modules.get("signal")):
        if module is not None and hasattr(module, "pidfd_send_signal"):
            module.pidfd_send_signal = stub("kill")
    for module in (posix, os):
        if hasattr(module, "pidfd_open"):
            module.pidfd_open = stub("kill")
