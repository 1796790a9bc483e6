"""Escape attempts against the kernel sandbox: each a real cell, sent as a user's message through the real server
(the host app, two users) to a real sandboxed kernel, whose stored tool output must show the attempt refused.

Each attempt names what it needs to see (`expect`: the cell ran and met the defence) and what would prove an escape
(`forbid`). How each was checked to fail without its defence (docs/sandbox.md, "The escape suite"): run against a
server with VARRO_SANDBOX=off and the server's own Python as the kernel's, every attempt safe to run that way
failed; run with an allow-all seccomp program, the 13 attempts whose refusal is the filter's failed.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import pytest

from tests.e2e.server import ROOT, Server
from tests.security.client import Tab
from tests.security.conftest import host_server
from tests.security.sandbox_console import Console

CANARY = "sk-varro-escape-canary-5f2c9d"  # the server's (fake) provider key: no cell may ever print it
SECRET = "bob-private-numbers-8812"  # in bob's working directory and uploads
WORKDIR_MB = 64  # the test server's quota for a chat's files


@dataclass
class World:
    """The real server and where its secrets are on the host."""

    srv: Server
    alice: Console
    bob: Console
    alice_other_chat: Path
    bob_workdir: Path
    bob_upload: Path
    bob_rundir: Path
    paths: dict[str, str] = field(default_factory=dict)


def kernel_rundirs() -> set[Path]:
    return set(Path("/tmp").glob("varro-k-*"))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("escape")
    env = {"OPENAI_API_KEY": CANARY, "VARRO_KERNEL_WORKDIR_MB": str(WORKDIR_MB), "VARRO_DEMO_TPS": "3000",
           "VARRO_CELL_TIMEOUT_S": "20"}
    with host_server(data, **env) as srv:
        before = kernel_rundirs()
        bob = Console(srv.url, "bob", srv.db_path)
        # Bob's kernel runs throughout: it is the other user whose files, memory and processes alice goes after.
        assert "ready" in bob.run("open('bob.txt', 'w').write('" + SECRET + "')\nprint('ready')")
        bob.run("open('/dev/shm/bob-shm', 'w').write('" + SECRET + "')")
        bob_rundir = next(iter(kernel_rundirs() - before))
        bob_workdir = data / "kernels" / str(bob.user_id) / str(bob.chat_id)
        bob_upload = data / "uploads" / str(bob.user_id) / str(bob.chat_id) / "secret.txt"
        bob_upload.parent.mkdir(parents=True, exist_ok=True)
        bob_upload.write_text(SECRET)
        alice = Console(srv.url, "alice", srv.db_path)
        other = Tab(srv.url, "alice")
        asyncio.run(other.sign_in())  # a second chat of alice's own, with a file in its folder
        alice_other_chat = data / "kernels" / str(alice.user_id) / str(other.chat_id)
        alice_other_chat.mkdir(parents=True, exist_ok=True)
        (alice_other_chat / "notes.txt").write_text(SECRET)
        Path("/dev/shm/varro-escape-host").write_text(SECRET)
        world = World(srv, alice, bob, alice_other_chat, bob_workdir, bob_upload, bob_rundir)
        world.paths = {
            "DB": str(srv.db_path), "KEY": str(data / ".sesskey"), "ROOT": str(ROOT), "DATA": str(data),
            "BOB_FILE": str(bob_workdir / "bob.txt"), "BOB_UPLOAD": str(bob_upload),
            "OTHER_CHAT": str(alice_other_chat / "notes.txt"), "SERVER_PID": str(srv.process.pid),
            "PORT": srv.url.rsplit(":", 1)[1], "BOB_SOCKET": str(next(bob_rundir.glob("ipc-*"))),
            "BOB_RUNDIR": str(bob_rundir),
        }
        try:
            yield world
        finally:
            Path("/dev/shm/varro-escape-host").unlink(missing_ok=True)
            alice.close()
            bob.close()


@dataclass(frozen=True)
class Attempt:
    name: str
    code: str
    expect: tuple[str, ...]  # all must appear: the cell ran and met the defence
    forbid: tuple[str, ...] = (SECRET, CANARY)  # none may appear: evidence of an escape


def libc_call(call: str, errno_hint: str = "") -> str:
    """A cell that makes a raw call through libc and prints its result and errno."""
    return ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            f"r = {call}\nprint('result', r, 'errno', os.strerror(ctypes.get_errno()))")


def syscall(number: int, *args: int) -> str:
    return libc_call(f"libc.syscall({', '.join(map(str, [number, *args]))})")


# Everything but /proc (endless) and /usr (Debian's own files, read-only; too many to walk in a test).
SEARCH = ("import os\nfound = []\nfor d, dirs, files in os.walk('/'):\n"
          "    dirs[:] = [x for x in dirs if os.path.join(d, x) not in ('/proc', '/usr', '/sys')]\n"
          "    found += [os.path.join(d, f) for f in files if %s]\nprint('found', found)")
CHILD = "import subprocess\nchild = subprocess.Popen(['sleep', '5'])\n"  # a process of its own to go after
DENIED = "result -1 errno Operation not permitted"
NO_FAMILY = "Address family not supported by protocol"
GONE = "FileNotFoundError"

ATTEMPTS = [
    # The server's files and secrets
    Attempt("db-by-path", "print(open('$DB', 'rb').read(16))", (GONE,), (SECRET, CANARY, "SQLite format")),
    Attempt("key-by-path", "print(open('$KEY', 'rb').read())", (GONE,)),
    Attempt("db-by-search", SEARCH % "f.endswith('.db')", ("found []",)),
    Attempt("key-by-search", SEARCH % "'sesskey' in f", ("found []",)),
    Attempt("data-dir-listing", "import os\nprint(os.listdir('$DATA'))", (GONE,), (SECRET, "varro.db", "sesskey")),
    Attempt("server-source", "print(open('$ROOT/app/main.py').read()[:50])", (GONE,), ("import",)),
    Attempt("server-venv", "import os\nprint(os.listdir('$ROOT/.venv'))", (GONE,), ("bin", "lib")),
    Attempt("import-server-packages", "import varro", ("ModuleNotFoundError: No module named 'varro'",)),
    Attempt("import-web-stack", "import fasthtml", ("ModuleNotFoundError: No module named 'fasthtml'",)),
    Attempt("environ-own", "import os\nprint('keys', sorted(os.environ))", ("keys",),
            (CANARY, "OPENAI", "VARRO_", "JPY_PARENT_PID")),
    Attempt("environ-parent-proc", "import os\nprint('ppid', os.getppid(), open('/proc/%d/environ' % os.getppid(), "
            "'rb').read().count(b'sk-'))", ("ppid 1 0",)),
    Attempt("environ-every-proc", "import glob\nhits = 0\nfor p in glob.glob('/proc/[0-9]*/environ'):\n"
            "    try: hits += open(p, 'rb').read().count(b'sk-')\n    except OSError: pass\nprint('hits', hits)",
            ("hits 0",)),
    Attempt("home-root", "import os\nprint('root has', os.listdir('/root'))", ("root has",), (SECRET, ".ssh", ".bash")),
    Attempt("etc-shadow", "print(open('/etc/shadow').read())", (GONE,), ("root:",)),
    # Other users, other chats
    Attempt("other-user-workdir", "print(open('$BOB_FILE').read())", (GONE,)),
    Attempt("other-user-upload", "print(open('$BOB_UPLOAD').read())", (GONE,)),
    Attempt("own-other-chat", "print(open('$OTHER_CHAT').read())", (GONE,)),
    Attempt("relative-traversal", "import os\nprint(os.listdir('..'), os.listdir('../..'))\n"
            "print(open('../../%d/%d/bob.txt').read())", (GONE,)),
    Attempt("workdir-name", "import os\nprint('cwd', os.getcwd(), os.listdir('/home'))", ("cwd /home/user ['user']",)),
    Attempt("symlink-out", "import os\nos.symlink('$DB', 'db-link')\nprint(open('db-link', 'rb').read(16))",
            (GONE,), (SECRET, CANARY, "SQLite format")),
    Attempt("hardlink-out", "import os\nos.link('$BOB_FILE', 'bob-link')", (GONE,)),
    Attempt("hardlink-system-file", "import os\nos.link('/usr/bin/env', 'env-link')", ("OSError",)),
    Attempt("write-system", "open('/usr/lib/varro-was-here', 'w')", ("Read-only file system",)),
    Attempt("write-kernel-env", "import sys\nopen(sys.prefix + '/varro-was-here', 'w')", ("Read-only file system",)),
    Attempt("write-proc-sys", "open('/proc/sys/vm/drop_caches', 'w').write('1')", ("PermissionError",)),
    Attempt("sysfs", "import os\nprint(os.listdir('/sys'))", (GONE,)),
    # Processes
    Attempt("list-processes", "import os\npids = [p for p in os.listdir('/proc') if p.isdigit()]\n"
            "cmds = [open(f'/proc/{p}/cmdline', 'rb').read() for p in pids]\n"
            "print('count', len(pids) < 10, any(b'uvicorn' in c or b'tests.security.host' in c for c in cmds))",
            ("count True False",)),
    Attempt("signal-server", "import os, signal\nos.kill($SERVER_PID, signal.SIGTERM)", ("ProcessLookupError",)),
    Attempt("signal-everyone", "import os, signal\nos.kill(-1, signal.SIGKILL)\nprint('still here')", ("still here",)),
    Attempt("ptrace", CHILD + libc_call("libc.ptrace(16, child.pid, 0, 0)"), (DENIED,)),
    Attempt("process-vm-readv", CHILD + libc_call("libc.syscall(310, child.pid, 0, 0, 0, 0, 0)"), (DENIED,)),
    Attempt("setuid-root", "import os\ntry:\n    os.setuid(0)\nexcept OSError as e:\n    print('refused', e.strerror)\n"
            "print('uid', os.getuid(), os.geteuid())", ("refused", "uid 1000 1000")),
    Attempt("capabilities", "print([l for l in open('/proc/self/status') if l.startswith('CapEff')])",
            ("CapEff:\\t0000000000000000",)),
    Attempt("su-sudo", "import subprocess\nfor cmd in (['sudo', '-n', 'id'], ['su', '-c', 'id']):\n"
            "    try: print(subprocess.run(cmd, capture_output=True, text=True, timeout=5, stdin=subprocess.DEVNULL))\n"
            "    except OSError as e: print(type(e).__name__)\nimport os\nprint('uid', os.getuid())",
            ("uid 1000",), ("uid=0(root)",)),
    # The kernel of Linux itself
    Attempt("mknod", "import os, stat\nos.mknod('disk', stat.S_IFBLK | 0o600, os.makedev(8, 0))", ("PermissionError",)),
    Attempt("mount", libc_call("libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)"), (DENIED,)),
    Attempt("unshare-user", libc_call("libc.unshare(0x10000000)"), (DENIED,)),
    Attempt("unshare-command", "import subprocess\nprint(subprocess.run(['unshare', '-r', 'id'], capture_output=True, "
            "text=True))", ("returncode=1",), ("uid=0(root)",)),
    Attempt("setns", libc_call("libc.setns(os.open('/proc/self/ns/net', os.O_RDONLY), 0)"), (DENIED,)),
    Attempt("chroot", libc_call("libc.chroot(b'/tmp')"), (DENIED,)),
    Attempt("keyctl", syscall(250, 0, 0, 0, 0, 0), (DENIED,)),
    Attempt("bpf", syscall(321, 0, 0, 0), (DENIED,)),
    Attempt("perf-event-open", syscall(298, 0, 0, -1, -1, 0), (DENIED,)),
    Attempt("io-uring", syscall(425, 8, 0), (DENIED,)),
    Attempt("kernel-module", syscall(175, 0, 0, 0), (DENIED,)),
    Attempt("new-mount-api", syscall(430, 0, 0), (DENIED,)),
    # The network
    Attempt("server-port", "import socket\nsocket.create_connection(('127.0.0.1', $PORT), timeout=2)", (NO_FAMILY,)),
    Attempt("tcp-any", "import socket\nsocket.create_connection(('127.0.0.1', 5432), timeout=2)", (NO_FAMILY,)),
    Attempt("udp", "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)", (NO_FAMILY,)),
    Attempt("tcp-ipv6", "import socket\nsocket.create_connection(('::1', $PORT), timeout=2)", (NO_FAMILY,)),
    Attempt("raw-and-netlink", "import socket\nfor fam in (socket.AF_PACKET, socket.AF_NETLINK):\n"
            "    try: socket.socket(fam, socket.SOCK_RAW)\n    except OSError as e: print('refused', e.errno)",
            ("refused 97\nrefused 97",)),
    Attempt("dns", "import socket, os\nprint(os.path.exists('/etc/resolv.conf'))\n"
            "socket.getaddrinfo('localhost', 80)", ("False", "gaierror")),
    Attempt("net-interfaces", "print('ifs', [line.split(':')[0].strip() for line in open('/proc/net/dev')][2:])",
            ("ifs ['lo']",)),
    Attempt("other-kernel-socket", "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect('$BOB_SOCKET')",
            (GONE,)),
    Attempt("other-kernel-rundir", "import glob, os\nprint('mine only', len(glob.glob('/tmp/varro-k-*')), "
            "os.path.exists('$BOB_RUNDIR'))", ("mine only 1 False",)),
    Attempt("dev-shm-crosstalk", "import os\nprint('shm', os.listdir('/dev/shm'))", ("shm []",),
            (SECRET, "bob-shm", "varro-escape-host")),
]


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=[a.name for a in ATTEMPTS])
def test_escape_attempt_fails(world: World, attempt: Attempt) -> None:
    code = Template(attempt.code).safe_substitute(world.paths)
    if attempt.name == "relative-traversal":
        code = code % (world.bob.user_id, world.bob.chat_id)
    out = world.alice.run(code)
    for needle in attempt.expect:
        assert needle in out, f"{attempt.name}: expected {needle!r} in:\n{out}"
    for needle in attempt.forbid:
        assert needle not in out, f"{attempt.name}: escaped ({needle!r}) in:\n{out}"
    assert world.srv.process.poll() is None, "the server died"


def test_other_rundir_is_not_the_attackers(world: World) -> None:
    """The glob above saw only the attacker's own run directory, never bob's."""
    out = world.alice.run("import glob\nprint(glob.glob('/tmp/varro-k-*'))")
    assert world.bob_rundir.name not in out and "varro-k-" in out


def test_attempts_count() -> None:
    assert len(ATTEMPTS) >= 40


def test_bob_is_unharmed(world: World) -> None:
    """After every attempt, the other user's kernel still has its state and its files."""
    assert SECRET in world.bob.run("print(open('bob.txt').read(), open('/dev/shm/bob-shm').read())")
    assert world.bob_workdir.joinpath("bob.txt").read_text() == SECRET
    assert world.bob_upload.read_text() == SECRET


# Exhaustion: bounded, with a clear message, and nobody else is harmed.


def bystander_stream(bob: Console) -> float:
    """Bob streams a short answer; its wall time."""
    started = time.monotonic()
    k = bob.turns
    bob.turns += 1
    bob._call(bob._turn("/stream 120 at 120", k, 60))
    return time.monotonic() - started


def test_fork_bomb_stops_at_the_cap_and_bob_streams_on(world: World) -> None:
    quiet = bystander_stream(world.bob)
    bomb = ("import os, time\nend = time.time() + 8\nn = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
            "            while time.time() < end: pass\n            os._exit(0)\n        n += 1\n"
            "except OSError as e:\n    print('stopped at', n, type(e).__name__)")
    result: dict[str, str] = {}
    thread = threading.Thread(target=lambda: result.setdefault("out", world.alice.run(bomb)))
    thread.start()
    time.sleep(1.0)
    during = bystander_stream(world.bob)  # bob streams while alice's spinners hold every process she may have
    thread.join(60)
    match = re.search(r"stopped at (\d+) BlockingIOError", result["out"])
    assert match and int(match[1]) < 128, result["out"]
    assert world.srv.process.poll() is None
    # Bob's 1 s answer does not crawl: generous for a shared 2-core machine, but far from a starved loop.
    assert during < max(4.0, 4 * quiet), (quiet, during)
    # Its zombies still count against her cap: a fresh kernel (as Reset shell gives) is what she can do next.
    world.alice.reset_shell()
    assert "fresh" in world.alice.run("print('fresh')")


def test_memory_exhaustion_is_refused(world: World) -> None:
    out = world.alice.run("blob = bytearray(8 * 1024**3)")
    assert "MemoryError" in out
    # Several processes, each under the per-process cap, together over the kernel's memory: the cgroup stops them.
    many = ("import os\nkids = []\nfor i in range(6):\n    pid = os.fork()\n    if pid == 0:\n"
            "        b = b'x' * (450 * 1024**2)\n        import time; time.sleep(3)\n        os._exit(0)\n"
            "    kids.append(pid)\nprint('exits', [os.waitpid(p, 0)[1] for p in kids])")
    out = world.alice.run(many)
    assert "exits" in out and "9" in out.split("exits", 1)[1], out  # some were SIGKILLed (status 9) by the OOM killer
    assert world.srv.process.poll() is None
    assert "2" in world.alice.run("print(1 + 1)")


def test_disk_exhaustion_stops_at_the_quota(world: World) -> None:
    big = world.alice.run(f"open('big.bin', 'wb').write(b'x' * ({WORKDIR_MB} + 8) * 1024**2)")
    # One file is capped at the quota by RLIMIT_FSIZE (EFBIG); with anything else in the folder, the watcher stops it.
    assert "File too large" in big or "DiskQuota" in big, big
    world.alice.run("import os\nif os.path.exists('big.bin'): os.remove('big.bin')")
    fill = ("import os\nfor i in range(40):\n    with open(f'fill{i}.bin', 'wb') as f:\n"
            "        f.write(os.urandom(8 * 1024**2))\n    os.sync()\nprint('wrote it all')")
    out = world.alice.run(fill)
    assert "DiskQuota" in out and f"quota of {WORKDIR_MB} MiB" in out, out
    assert "wrote it all" not in out
    workdir = world.srv.data / "kernels" / str(world.alice.user_id) / str(world.alice.chat_id)
    assert not list(workdir.glob("fill*.bin"))  # the cell's files are removed, the chat can go on
    assert "after" in world.alice.run("print('after')")
    tmp = world.alice.run("for i in range(8):\n    open(f'/tmp/fill{i}', 'wb').write(b'x' * 40 * 1024**2)")
    assert "No space left on device" in tmp


def test_background_process_ends_with_its_kernel(world: World) -> None:
    out = world.alice.run("import subprocess\np = subprocess.Popen(['sleep', '600'], start_new_session=True)\n"
                          "print('started', p.pid)")
    assert "started" in out
    sleepers = [p for p in Path("/proc").glob("[0-9]*") if _cmdline(p) == b"sleep\x00600\x00"]
    assert sleepers, "the background process should be running on the host"
    world.alice.reset_shell()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_cmdline(p) for p in sleepers):
        time.sleep(0.2)
    assert not any(_cmdline(p) for p in sleepers)


def _cmdline(proc: Path) -> bytes:
    try:
        return proc.joinpath("cmdline").read_bytes()
    except OSError:
        return b""


def test_kernel_runs_as_its_own_uid(world: World) -> None:
    """Outside the sandbox the kernel's uid is neither the server's nor another kernel's."""
    world.alice.run("print('awake')")
    world.bob.run("print('awake')")
    uids = set()
    for proc in Path("/proc").glob("[0-9]*"):
        if b"kernel_main.py" in _cmdline(proc):
            status = proc.joinpath("status").read_text()
            uids.add(int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1]))
    assert len(uids) >= 2 and os.getuid() not in uids and 0 not in uids, uids
