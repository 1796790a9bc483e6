"""Escape attempts against the kernel sandbox: each a real cell, sent as a user's message through the real server
(the host app, two users) to a real sandboxed kernel, whose stored tool output must show the attempt refused.

Each attempt names what it needs to see (`expect`: the cell ran and met the defence) and what would prove an escape
(`forbid`). None of them can pass for want of a target or by an echo: the host paths they go after are checked to
exist, no expected text is in its attempt's code, and the attempts whose refusal is the seccomp filter's run again
in the same sandbox without the filter, where they must fail (docs/sandbox.md, "The escape suite")."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

import pytest

from tests.e2e.server import ROOT, Server
from tests.kernels import shared_sandbox
from tests.security.client import Tab
from tests.security.conftest import host_server
from tests.security.sandbox_console import Console
from varro.kernels.sandbox.plan import launcher
from varro.kernels.sandbox.seccomp import filter_bpf

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


def server_cgroup(pid: int) -> str:
    """The server's memory cgroup on the host (its v2 one where there is no v1 memory hierarchy)."""
    lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    path = next((line.split(":", 2)[2] for line in lines if "memory" in line.split(":")[1].split(",")), None)
    path = path if path is not None else lines[-1].split(":", 2)[2]
    return path if path != "/" else "/varro-no-cgroup-of-its-own"  # "/" is in every mountinfo: nothing to look for


def kernel_rundirs() -> set[Path]:
    return set(Path("/tmp").glob("varro-k-*"))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("escape")
    # No pool: the fixture tells bob's kernel by the run folder that appears when his first cell starts one.
    env = {"OPENAI_API_KEY": CANARY, "VARRO_KERNEL_WORKDIR_MB": str(WORKDIR_MB), "VARRO_DEMO_TPS": "3000",
           "VARRO_KERNEL_POOL": "0",
           "VARRO_CELL_TIMEOUT_S": "20"}
    with host_server(data, **env) as srv:
        before = kernel_rundirs()
        bob = Console(srv.url, "bob", srv.db_path)
        # Bob's kernel runs throughout: it is the other user whose files, memory and processes alice goes after.
        assert "ready" in bob.run("open('bob.txt', 'w').write('" + SECRET + "')\nprint('ready')")
        bob.run("open('/dev/shm/bob-shm', 'w').write('" + SECRET + "')")
        # Asked of the kernel itself: other test workers start kernels of their own under /tmp at the same time.
        said = bob.run("from ipykernel.connect import get_connection_file\nprint(get_connection_file())")
        bob_rundir = Path(re.findall(r"/tmp/varro-k-[^/\s]+", said)[0])
        assert bob_rundir in kernel_rundirs() - before, said
        bob_workdir = srv.chat_folder(bob.user_id, bob.chat_id)
        bob_upload = data / "uploads" / str(bob.user_id) / str(bob.chat_id) / "secret.txt"
        bob_upload.parent.mkdir(parents=True, exist_ok=True)
        bob_upload.write_text(SECRET)
        alice = Console(srv.url, "alice", srv.db_path)
        other = Tab(srv.url, "alice")
        asyncio.run(other.sign_in())  # a second chat of alice's own, with a file in its folder
        alice_other_chat = srv.chat_folder(alice.user_id, other.chat_id)
        alice_other_chat.mkdir(parents=True, exist_ok=True)
        (alice_other_chat / "notes.txt").write_text(SECRET)
        Path("/dev/shm/varro-escape-host").write_text(SECRET)
        canary = data / "host-canary.txt"  # outside every chat's folder: checked after every attempt
        canary.write_text(SECRET)
        canary.chmod(0o600)
        world = World(srv, alice, bob, alice_other_chat, bob_workdir, bob_upload, bob_rundir)
        world.paths = {
            "DB": str(srv.db_path), "KEY": str(data / ".sesskey"), "ROOT": str(ROOT), "DATA": str(data),
            "BOB_FILE": str(bob_workdir / "bob.txt"), "BOB_UPLOAD": str(bob_upload),
            "OTHER_CHAT": str(alice_other_chat / "notes.txt"), "SERVER_PID": str(srv.process.pid),
            "PORT": srv.url.rsplit(":", 1)[1], "BOB_SOCKET": str(next(bob_rundir.glob("ipc-*"))),
            "BOB_RUNDIR": str(bob_rundir), "CANARY": str(canary),
            "SERVER_CGROUP": server_cgroup(srv.process.pid),
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
    # The expectation is the seccomp filter's: without the filter the same cell shows something else (checked by
    # `test_the_filters_attempts_fail_without_the_filter`).
    filtered: bool = False


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
    Attempt("environ-own", "import os\nprint('keys'.upper(), sorted(os.environ))", ("KEYS",),
            (CANARY, "OPENAI", "VARRO_", "JPY_PARENT_PID")),
    Attempt("environ-parent-proc", "import os\nprint('ppid', os.getppid(), open('/proc/%d/environ' % os.getppid(), "
            "'rb').read().count(b'sk-'))", ("ppid 1 0",)),
    Attempt("environ-every-proc", "import glob\nhits = 0\nfor p in glob.glob('/proc/[0-9]*/environ'):\n"
            "    try: hits += open(p, 'rb').read().count(b'sk-')\n    except OSError: pass\nprint('hits', hits)",
            ("hits 0",)),
    Attempt("home-root", "import os\nprint('root has'.upper(), os.listdir('/root'))", ("ROOT HAS",),
            (SECRET, ".ssh", ".bash")),
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
    # kill(-1) reaches every process the caller may signal but itself: in the pid namespace, none (ESRCH).
    Attempt("signal-everyone", "import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\n"
            "except ProcessLookupError:\n    print('nobody to signal'.upper())\nprint('still here'.upper())",
            ("NOBODY TO SIGNAL\nSTILL HERE",)),
    # Without the filter: both succeed (the child is the cell's own, of the same uid).
    Attempt("ptrace", CHILD + libc_call("libc.ptrace(16, child.pid, 0, 0)"), (DENIED,), filtered=True),
    Attempt("process-vm-readv", CHILD + libc_call("libc.syscall(310, child.pid, 0, 0, 0, 0, 0)"), (DENIED,),
            filtered=True),
    Attempt("setuid-root", "import os\ntry:\n    os.setuid(0)\nexcept OSError as e:\n    print('refused'.upper(), e.strerror)\n"
            "print('uid', os.getuid(), os.geteuid())", ("REFUSED", "uid 1000 1000")),
    Attempt("capabilities", "print([l for l in open('/proc/self/status') if l.startswith('CapEff')])",
            ("CapEff:\\t0000000000000000",)),
    Attempt("su-sudo", "import subprocess\nfor cmd in (['sudo', '-n', 'id'], ['su', '-c', 'id']):\n"
            "    try: print(subprocess.run(cmd, capture_output=True, text=True, timeout=5, stdin=subprocess.DEVNULL))\n"
            "    except OSError as e: print(type(e).__name__)\nimport os\nprint('uid', os.getuid())",
            ("uid 1000",), ("uid=0(root)",)),
    # The kernel of Linux itself
    Attempt("mknod", "import os, stat\nos.mknod('disk', stat.S_IFBLK | 0o600, os.makedev(8, 0))", ("PermissionError",)),
    # Arguments the kernel itself would reject with another error (a bad address, bad flags, a bad descriptor)
    # before it looks at capabilities: so EPERM here is the seccomp filter's, not a missing capability's.
    Attempt("mount", libc_call("libc.mount(ctypes.c_void_p(1), b'/tmp', b'tmpfs', 0, None)"), (DENIED,),
            filtered=True),
    Attempt("unshare-user", libc_call("libc.unshare(-1)"), (DENIED,), filtered=True),
    Attempt("unshare-command", "import subprocess\nprint(subprocess.run(['unshare', '-r', 'id'], capture_output=True, "
            "text=True))", ("returncode=1",), ("uid=0(root)",)),
    Attempt("setns", libc_call("libc.setns(-1, 0)"), (DENIED,), filtered=True),
    Attempt("chroot", libc_call("libc.chroot(ctypes.c_void_p(1))"), (DENIED,), filtered=True),
    Attempt("keyctl", syscall(250, -1, 0, 0, 0, 0), (DENIED,), filtered=True),
    Attempt("perf-event-open", syscall(298, 0, 0, -1, -1, 0), (DENIED,), filtered=True),
    Attempt("io-uring", syscall(425, 8, 0), (DENIED,), filtered=True),
    Attempt("new-mount-api", syscall(428, -1, 0, -1), (DENIED,), filtered=True),  # open_tree, bad flags
    # These two the kernel refuses for want of a capability before it reads an argument, so a cell cannot tell the
    # filter's EPERM from that (tests/unit/test_seccomp.py does, as root): refused either way.
    Attempt("bpf", syscall(321, 0, 0, 0), (DENIED,)),
    Attempt("kernel-module", syscall(175, 0, 0, 0), (DENIED,)),
    # The network
    Attempt("server-port", "import socket\nsocket.create_connection(('127.0.0.1', $PORT), timeout=2)", (NO_FAMILY,),
            filtered=True),
    Attempt("tcp-any", "import socket\nsocket.create_connection(('127.0.0.1', 5432), timeout=2)", (NO_FAMILY,),
            filtered=True),
    Attempt("udp", "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)", (NO_FAMILY,), filtered=True),
    Attempt("tcp-ipv6", "import socket\nsocket.create_connection(('::1', $PORT), timeout=2)", (NO_FAMILY,),
            filtered=True),
    Attempt("raw-and-netlink", "import socket\nfor fam in (socket.AF_PACKET, socket.AF_NETLINK):\n"
            "    try: socket.socket(fam, socket.SOCK_RAW)\n    except OSError as e: print('refused', e.errno)",
            ("refused 97\nrefused 97",), filtered=True),
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
    # What the launcher leaves in view: its staging, its plan, the host's layout, uids and cgroups
    Attempt("staging-binds", "import glob, os\nstages = glob.glob('/tmp/varro-k-*/binds')\n"
            "print('stage', len(stages), [os.listdir(d) for d in stages], "
            "[l.split()[4] for l in open('/proc/self/mountinfo') if '/binds' in l])", ("stage 1 [[]] []",)),
    Attempt("write-staging", "import glob\nfor d in glob.glob('/tmp/varro-k-*/binds'):\n    open(d + '/0/x', 'w')",
            (GONE,)),
    Attempt("launch-plan", "import glob\nprint('plans', glob.glob('/tmp/varro-k-*/launch.json'), "
            "glob.glob('/tmp/varro-k-*/*.json'))", ("plans [] ['/tmp/varro-k-",), (SECRET, CANARY, '"uid"')),
    Attempt("host-layout", "print(open('/proc/self/mountinfo').read())", ("/home/user",),
            (SECRET, CANARY, "$ROOT/varro", "/binds", "varro-kernel-", "$SERVER_CGROUP")),
    Attempt("cgroup-names", "print(open('/proc/self/cgroup').read())", ("0::/",), ("varro-kernel-", "$SERVER_CGROUP")),
    Attempt("uid-map", "print('maps', open('/proc/self/uid_map').read().split(), "
            "open('/proc/self/gid_map').read().split())", ("maps ['1000', '0', '1'] ['1000', '0', '1']",)),
]


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=[a.name for a in ATTEMPTS])
def test_escape_attempt_fails(world: World, attempt: Attempt) -> None:
    code = Template(attempt.code).safe_substitute(world.paths)
    if attempt.name == "relative-traversal":
        code = code % (world.bob.user_id, world.bob.chat_id)
    out = world.alice.run(code)
    for needle in attempt.expect:
        assert needle in out, f"{attempt.name}: expected {needle!r} in:\n{out}"
    for needle in (Template(n).safe_substitute(world.paths) for n in attempt.forbid):
        assert needle not in out, f"{attempt.name}: escaped ({needle!r}) in:\n{out}"
    assert world.srv.process.poll() is None, "the server died"


def test_other_rundir_is_not_the_attackers(world: World) -> None:
    """The glob above saw only the attacker's own run directory, never bob's."""
    out = world.alice.run("import glob\nprint(glob.glob('/tmp/varro-k-*'))")
    assert world.bob_rundir.name not in out and "varro-k-" in out


def test_no_expectation_is_in_its_own_code() -> None:
    """A traceback shows the cell's lines: an expected text that is also in the code would be met by any error."""
    echoed = [(a.name, needle) for a in ATTEMPTS for needle in a.expect if needle in a.code]
    assert not echoed


def test_the_host_paths_attacked_are_there_and_untouched(world: World) -> None:
    """Every host path an attempt names exists on the host, so its FileNotFoundError inside means "not in view",
    never "not anywhere"; and the canary outside every folder has its content, owner and mode after them all."""
    for name in ("DB", "KEY", "DATA", "BOB_FILE", "BOB_UPLOAD", "OTHER_CHAT", "BOB_SOCKET", "BOB_RUNDIR", "CANARY"):
        assert Path(world.paths[name]).exists(), name
    assert Path(world.paths["ROOT"], "app", "main.py").is_file() and Path(world.paths["ROOT"], ".venv").is_dir()
    assert Path("/etc/shadow").is_file() and Path("/root").is_dir()
    canary = Path(world.paths["CANARY"]).stat()
    assert Path(world.paths["CANARY"]).read_text() == SECRET
    assert (canary.st_uid, canary.st_mode & 0o777) == (0, 0o600)


def test_bob_is_unharmed(world: World) -> None:
    """After every attempt, the other user's kernel still has its state and its files."""
    assert SECRET in world.bob.run("print(open('bob.txt').read(), open('/dev/shm/bob-shm').read())")
    assert world.bob_workdir.joinpath("bob.txt").read_text() == SECRET
    assert world.bob_upload.read_text() == SECRET


# Each attempt whose expectation is the seccomp filter's, run in the same sandbox with the filter replaced by one
# that allows everything: its expectation must then be missing, or it was never the filter's to meet.
ALLOW_ALL = struct.pack("=HBBI", 0x06, 0, 0, 0x7FFF0000)  # BPF_RET | BPF_K, SECCOMP_RET_ALLOW
HARNESS = """
import contextlib, io, json, sys, traceback
outs = []
for code in json.loads(sys.argv[1]):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            exec(code, {})
        except Exception:
            print(traceback.format_exc(limit=0))
    outs.append(out.getvalue())
print(json.dumps(outs))
"""


def sandboxed(codes: list[str], program: bytes) -> list[str]:
    sandbox = shared_sandbox()
    uid = sandbox.take_uid()
    stage = tempfile.mkdtemp(prefix="varro-escape-")
    try:
        binds = [("ro", root, root) for root in sandbox.python_roots]
        plan = sandbox.plan_dict(uid, binds, [str(sandbox.kernel_python), "-c", HARNESS, json.dumps(codes)],
                                 cgroups=[], stage=stage, chown=[stage])
        plan["seccomp"] = program.hex()
        out = subprocess.run([sys.executable, launcher(), json.dumps(plan)], capture_output=True, text=True,
                             timeout=120, env={"PATH": os.defpath})
    finally:
        sandbox.release_uid(uid)
        shutil.rmtree(stage, ignore_errors=True)
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout))


def test_the_filters_attempts_fail_without_the_filter() -> None:
    attempts = [a for a in ATTEMPTS if a.filtered]
    assert len(attempts) >= 14
    codes = [Template(a.code).safe_substitute(PORT="9") for a in attempts]
    with_filter, without = sandboxed(codes, filter_bpf()), sandboxed(codes, ALLOW_ALL)
    for attempt, held, bare in zip(attempts, with_filter, without, strict=True):
        assert all(needle in held for needle in attempt.expect), (attempt.name, held)
        assert not all(needle in bare for needle in attempt.expect), (attempt.name, bare)


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
    workdir = world.srv.chat_folder(world.alice.user_id, world.alice.chat_id)
    assert not list(workdir.glob("fill*.bin"))  # the cell's files are removed, the chat can go on
    assert "after" in world.alice.run("print('after')")
    tmp = world.alice.run("for i in range(8):\n    open(f'/tmp/fill{i}', 'wb').write(b'x' * 40 * 1024**2)")
    assert "No space left on device" in tmp


def test_files_written_while_the_quota_trips_are_all_removed(world: World) -> None:
    """A helper process the cell started writes small files without pause while the quota trips: every process of
    the kernel is gone before the cell's files are removed, so none of them is left behind (under load, one was)."""
    ticker = "import itertools\nfor i in itertools.count(): open(f'tick{i}.txt', 'w').write('x')"
    out = world.alice.run(f"import subprocess, sys\nsubprocess.Popen([sys.executable, '-c', {ticker!r}], "
                          "start_new_session=True)\nimport time\ntime.sleep(60)")
    assert "DiskQuota" in out, out
    workdir = world.srv.chat_folder(world.alice.user_id, world.alice.chat_id)
    assert not list(workdir.glob("tick*.txt"))
    assert "after" in world.alice.run("import os\nprint('after', len(os.listdir('.')))")


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
