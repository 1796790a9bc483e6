"""The kernel's sandbox: what a kernel process may see and use, and the plan that starts it that way.

A sandboxed kernel runs under bubblewrap as a uid of its own (never the server's), in its own user, pid, ipc, uts
and network namespaces, with a read-only view of the system and of its own Python environment, and one writable
directory: its chat's working directory, seen inside as `/home/user`. Limits hold from inside: rlimits, a cgroup
where the machine has one, and a seccomp filter. The plan is a JSON file that `launch.py` carries out as root
(it joins the cgroups, opens the directories to bind, drops to the kernel's uid) before it execs bwrap.

Where no sandbox can be made, `Sandbox.probe` says why in one sentence and code does not run (see `Unavailable`).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

from varro.kernels.sandbox import cgroup
from varro.kernels.sandbox.seccomp import filter_bpf

log = logging.getLogger(__name__)

OPT_VARRO = "/opt/varro"  # varro/kernels/sandbox/inside/, read-only: the kernel's entry point
HOME = "/home/user"  # the chat's working directory, as code in the kernel sees it
INSIDE_UID = 1000  # what `os.getuid()` says inside; outside, the kernel has a uid from the pool
SYSTEM_DIRS = ("/usr", "/etc/alternatives", "/etc/ld.so.cache", "/etc/localtime", "/etc/fonts")
USR_LINKS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")  # merged-/usr links, where the host has them


class Unavailable(RuntimeError):
    """No sandbox can be made here; the message is one sentence for the page and the log."""


@dataclass(frozen=True)
class NoSandbox:
    """VARRO_SANDBOX=off: the kernel runs as the server's user, memory-capped only. For a single trusted user on
    their own machine, never for a shared server."""

    python: Path


@dataclass(frozen=True)
class Refused:
    """No sandbox could be made and none was waived: every cell gets `reason` instead of running."""

    reason: str


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 2048
    max_procs: int = 128  # processes and threads of one kernel: a fork bomb stops here
    open_files: int = 512
    file_mb: int = 1024  # the largest single file a cell may write
    workdir_mb: int = 1024  # the chat's working directory as a whole (see varro/kernels/quota.py)
    tmp_mb: int = 256  # /tmp and /dev/shm, each a private tmpfs
    # cgroup cpu.shares: a kernel with all its processes weighs as much as one ordinary process (1024), so a fork
    # bomb gets one process's share of the CPU, not one share per process it forks.
    cpu_share: int = 1024


@dataclass
class Sandbox:
    """The server's sandbox for kernels: one per server, shared by every kernel (it hands out their uids)."""

    kernel_python: Path
    bwrap: str
    limits: Limits = field(default_factory=Limits)
    uid_base: int = 300_000
    uid_count: int = 10_000
    python_roots: tuple[str, ...] = ()
    font_cache: Path | None = None
    # uid -> the open lock file that holds it: several server processes on one machine must never hand out the
    # same uid (kernels sharing a uid would share RLIMIT_NPROC). An flock is released when its process dies.
    _held: dict[int, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def probe(cls, kernel_python: Path | None, limits: Limits, uid_base: int = 300_000) -> Sandbox:
        """A ready sandbox, or `Unavailable` with the reason. Starts one throwaway sandbox to prove it works."""
        if sys.platform != "linux":
            raise Unavailable("Code can't run: the kernel sandbox needs Linux (bubblewrap and namespaces).")
        bwrap = shutil.which("bwrap")
        if bwrap is None:
            raise Unavailable("Code can't run: bubblewrap is not installed (`apt-get install bubblewrap`; `make setup` "
                              "does it as root).")
        if os.geteuid() != 0:
            raise Unavailable("Code can't run: the server must start as root so that each kernel gets a uid of its "
                              "own (it drops to that uid before the sandbox starts).")
        if kernel_python is None or not kernel_python.exists():
            raise Unavailable(f"Code can't run: the kernel's Python environment is missing ({kernel_python}); "
                              "`make setup` makes it, or set VARRO_KERNEL_PYTHON.")
        roots = python_roots(kernel_python)
        sandbox = cls(kernel_python, bwrap, limits, uid_base, python_roots=roots, font_cache=font_cache(kernel_python))
        sandbox.self_test()
        try:
            cgroup.check(limits)
        except cgroup.CgroupError as exc:
            raise Unavailable(f"Code can't run: {exc}.") from exc
        return sandbox

    def self_test(self) -> None:
        """Run `python -c pass` in the sandbox as it will run kernels, so a machine without user namespaces (or with
        an unusable /proc) is found at start-up, not at a user's first cell."""
        argv = [str(self.kernel_python), "-c", "import os; print(os.getuid())"]
        uid = self.take_uid()
        stage = tempfile.mkdtemp(prefix="varro-probe-")
        try:
            binds = [("ro", root, root) for root in self.python_roots]
            plan = self.plan_dict(uid, binds, argv, cgroups=[], stage=stage, chown=[stage])
            cmd = [sys.executable, launcher(), json.dumps(plan)]
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env={"PATH": os.defpath})
        finally:
            self.release_uid(uid)
            shutil.rmtree(stage, ignore_errors=True)
        if out.returncode != 0 or out.stdout.strip() != str(INSIDE_UID):
            detail = (out.stderr.strip().splitlines() or ["no output"])[-1]
            raise Unavailable(f"Code can't run: a test sandbox failed to start ({detail}); user namespaces may be "
                              "disabled on this machine.")

    def take_uid(self) -> int:
        folder = uid_lock_dir()
        with self._lock:
            for uid in range(self.uid_base, self.uid_base + self.uid_count):
                if uid in self._held:
                    continue
                fd = os.open(folder / str(uid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:  # another server process's kernel has it
                    os.close(fd)
                    continue
                self._held[uid] = fd
                return uid
        raise Unavailable("Code can't run: every sandbox uid is in use.")

    def release_uid(self, uid: int) -> None:
        with self._lock:
            fd = self._held.pop(uid, None)
        if fd is not None:
            os.close(fd)  # releases the flock

    def prepare(self, name: str, uid: int, workdir: Path, rundir: Path, argv: list[str],
                env: dict[str, str], memory_mb: int) -> tuple[Path, list[str]]:
        """Write the launch plan for one kernel into `rundir`; the kernel's cgroups are made here too."""
        limits = replace(self.limits, memory_mb=memory_mb)
        cgroups = cgroup.create(name, limits)
        binds = [("ro", root, root) for root in self.python_roots]
        binds += [("copy", str(Path(__file__).with_name("inside")), OPT_VARRO)]
        binds += [("rw", str(workdir), HOME), ("rw", str(rundir), str(rundir))]
        if self.font_cache is not None:
            binds.append(("copy", str(self.font_cache), f"/tmp/matplotlib/{self.font_cache.name}"))
        stage = rundir / "binds"
        stage.mkdir()
        plan = self.plan_dict(uid, binds, argv, cgroups, stage=str(stage), chown=[str(workdir), str(rundir)],
                              limits=limits)
        plan["env"] = env
        # Root's alone, and removed by the launcher once read: the kernel never reads the host's paths, uid, cgroups.
        path = rundir / "launch.json"
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(json.dumps(plan))
        return path, cgroups

    def plan_dict(self, uid: int, binds: list[tuple[str, str, str]], argv: list[str], cgroups: list[str],
                  stage: str, chown: list[str] | None = None, limits: Limits | None = None) -> dict[str, object]:
        limits = limits or self.limits
        return {
            "uid": uid,
            "stage": stage,
            "chown": chown or [],
            "cgroups": cgroups,
            "rlimits": {
                "AS": limits.memory_mb * 2**20,
                "NPROC": limits.max_procs,
                "NOFILE": limits.open_files,
                "FSIZE": limits.file_mb * 2**20,
                "CORE": 0,
            },
            "binds": binds,
            "seccomp": filter_bpf().hex(),
            "bwrap": [self.bwrap, *bwrap_args(limits)],
            "argv": argv,
        }


Isolation = Sandbox | NoSandbox | Refused


def bwrap_args(limits: Limits) -> list[str]:
    """Everything but the binds that need the launcher's open directories (see launch.py)."""
    args = [
        "--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-net", "--unshare-cgroup-try",
        "--uid", str(INSIDE_UID), "--gid", str(INSIDE_UID), "--disable-userns",
        "--die-with-parent", "--new-session", "--hostname", "sandbox",
        "--proc", "/proc", "--dev", "/dev",
        "--size", str(limits.tmp_mb * 2**20), "--tmpfs", "/tmp",
        "--size", str(limits.tmp_mb * 2**20), "--tmpfs", "/dev/shm",
        "--dir", "/tmp/matplotlib", "--dir", HOME,
    ]
    for path in SYSTEM_DIRS:
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    for name in USR_LINKS:
        if os.path.islink(f"/{name}"):
            args += ["--symlink", os.readlink(f"/{name}"), f"/{name}"]
    return [*args, "--chdir", HOME, "--clearenv"]


def python_roots(kernel_python: Path) -> tuple[str, ...]:
    """The directories the kernel's Python lives in: its environment and the installation it was made from."""
    out = subprocess.run([str(kernel_python), "-c", "import sys; print(sys.prefix); print(sys.base_prefix)"],
                         capture_output=True, text=True, timeout=30, check=True)
    roots = {line for line in out.stdout.splitlines() if line and not line.startswith("/usr")}
    # A venv's python may be a symlink chain into yet another directory (pyenv's shims do this).
    real = Path(os.path.realpath(kernel_python)).parent.parent
    if not str(real).startswith("/usr"):
        roots.add(str(real))
    return tuple(sorted(roots))


def font_cache(kernel_python: Path) -> Path | None:
    """matplotlib's font list, built once by the set-up (`make setup`) into the kernel's environment."""
    found = sorted((kernel_python.parent.parent / "mplconfig").glob("fontlist-*.json"))
    return found[-1] if found else None


def uid_lock_dir() -> Path:
    """Where kernels' uids are locked, shared by every server process on the machine (root's own /run)."""
    folder = Path("/run/varro-uids") if os.access("/run", os.W_OK) else Path(tempfile.gettempdir()) / "varro-uids"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def launcher() -> str:
    return str(Path(__file__).with_name("launch.py"))


def kernel_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a sandboxed kernel (bwrap starts from an empty one)."""
    env = {
        "HOME": HOME,
        "USER": "user",
        "LANG": "C.UTF-8",
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "TMPDIR": "/tmp",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "MALLOC_ARENA_MAX": "2",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
    env.update(extra or {})
    return env
