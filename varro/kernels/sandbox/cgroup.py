"""A cgroup per kernel, where the machine lets the server make one: memory, process count and CPU share.

rlimits are per process (RLIMIT_AS) or per uid (RLIMIT_NPROC); a cgroup bounds the kernel and every process it
starts together, and lets the server kill all of them at once. cgroup v1 (one hierarchy per controller, as on
these machines) and v2 (one unified hierarchy) are both handled, inside a cgroup namespace too (a container's):
paths are found from /proc/self/mountinfo, not assumed under /sys/fs/cgroup. Where no cgroup is writable the
kernel runs with its rlimits only, and start-up logs that once; where one is writable but a limit cannot be set
there (its controller is not enabled), that is an error naming the file, and the sandbox refuses to start.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from varro.kernels.sandbox.plan import Limits

log = logging.getLogger(__name__)

ROOT = Path("/sys/fs/cgroup")
PREFIX = "varro-kernel-"
SERVER_LEAF = "varro-server"  # v2, where the server's cgroup is the top of its view: the server's processes move here
V2_CONTROLLERS = ("memory", "pids", "cpu")
_warned = False


class CgroupError(RuntimeError):
    """A kernel's cgroup was made but cannot hold its limits; the message names the file and what to change."""


def _own_path(controller: str) -> str | None:
    """This process's cgroup path in `controller`'s hierarchy (v1), or in the unified one ('' controller), as the
    process's cgroup namespace shows it (relative to the namespace's root)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if (controller and controller in controllers.split(",")) or (not controller and controllers == ""):
            return path
    return None


def _mounts(mountinfo: str) -> list[tuple[str, Path, str, set[str]]]:
    """(root, mount point, fstype, options) of each cgroup mount in /proc/self/mountinfo's text."""
    found = []
    for line in mountinfo.splitlines():
        fields = line.split()
        sep = fields.index("-")
        fstype, options = fields[sep + 1], set(fields[sep + 3].split(","))
        if fstype in ("cgroup", "cgroup2"):
            found.append((fields[3], Path(fields[4].replace("\\040", " ")), fstype, options))
    return found


def _where(own: str, root: str, mount: Path) -> Path:
    """The directory of cgroup `own` under a mount of the hierarchy whose root (in the same namespace's terms, as
    mountinfo and /proc/self/cgroup both give them) is `root`. Inside a cgroup namespace both are relative to the
    namespace's root; a mount made outside it shows a root beginning with "/..", and nothing there can be found."""
    if root.startswith("/..") or not (own == root or own.startswith(root.rstrip("/") + "/")):
        raise CgroupError(f"this process's cgroup {own} is not under the cgroup mount at {mount} (root {root}): "
                          "mount the cgroup filesystem from inside the server's cgroup namespace")
    return mount / own[len(root.rstrip("/")):].lstrip("/")


def _settings(limits: Limits) -> dict[str, dict[str, str]]:
    memory = str(limits.memory_mb * 2**20)
    return {
        "memory": {"memory.limit_in_bytes": memory, "memory.swappiness": "0"},
        "pids": {"pids.max": str(limits.max_procs)},
        "cpu": {"cpu.shares": str(limits.cpu_share)},
        "unified": {"memory.max": memory, "pids.max": str(limits.max_procs),
                    "cpu.weight": str(max(1, limits.cpu_share * 100 // 1024))},
    }


def _bases() -> dict[str, Path]:
    """Where this process's kernels' cgroups go, per controller: beside nothing, under our own cgroup."""
    mounts = _mounts(Path("/proc/self/mountinfo").read_text())
    bases: dict[str, Path] = {}
    v1 = {c: (root, point) for root, point, fstype, opts in mounts if fstype == "cgroup" for c in opts}
    if "memory" in v1:
        for controller in ("memory", "pids", "cpu"):
            own = _own_path(controller)
            if own is not None and controller in v1:
                bases[controller] = _where(own, *v1[controller])
        return bases
    unified = [(root, point) for root, point, fstype, _ in mounts if fstype == "cgroup2"]
    own = _own_path("")
    if unified and own is not None:
        bases["unified"] = _v2_base(_where(own, *unified[0]), unified[0][1])
    return bases


def _v2_base(own: Path, top: Path) -> Path:
    """v2: kernels beside our own cgroup, under its parent; or, where our cgroup is the top of what we see (the root
    of a cgroup namespace, as in a container), under our own cgroup, once the server's processes are moved into a
    leaf of their own (v2 lets a cgroup with processes in it hand no controllers to its children)."""
    if own != top:
        base = own.parent
    elif not (own / "cgroup.type").exists():
        base = own  # the machine's root cgroup, which may hold processes and hand controllers down alike
    else:
        base = own
        leaf = own / SERVER_LEAF
        leaf.mkdir(exist_ok=True)
        for pid in (own / "cgroup.procs").read_text().split():
            try:
                (leaf / "cgroup.procs").write_text(pid)
            except OSError:
                pass  # gone meanwhile; if one stays, the controllers are not enabled and `create` names the file
    enabled = (base / "cgroup.subtree_control").read_text().split()
    if missing := [c for c in V2_CONTROLLERS if c not in enabled]:
        try:
            (base / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in missing))
        except OSError:
            pass  # said precisely, file by file, when a kernel's cgroup misses them (`create`)
    return base


def create(name: str, limits: Limits) -> list[str]:
    """Make the kernel's cgroups and set their limits; the paths to join (empty where none can be made). A cgroup
    that can be made but lacks a limit's file (its controller is not enabled there) is a `CgroupError`."""
    global _warned
    made: list[str] = []
    settings = _settings(limits)
    for controller, base in _bases().items():
        path = base / f"{PREFIX}{name}"
        try:
            path.mkdir(exist_ok=True)
        except OSError as exc:
            if not _warned:
                log.warning("kernels run without a %s cgroup (%s): their rlimits still hold", controller, exc)
                _warned = True
            continue
        try:
            for key, value in settings[controller].items():
                _write(path / key, value, base)
        except (OSError, CgroupError):
            remove([*made, str(path)], wait=1.0)
            raise
        made.append(str(path))
    return made


def _write(path: Path, value: str, base: Path) -> None:
    if not path.exists():
        controller = path.name.split(".")[0]
        raise CgroupError(f"the kernel's cgroup has no {path}: the {controller} controller is not enabled under "
                          f"{base} (add it to {base / 'cgroup.subtree_control'}, or to the hierarchy's mount)")
    path.write_text(value)


def check(limits: Limits) -> None:
    """Make a cgroup as a kernel would, and remove it: a `CgroupError` at start-up rather than at a user's cell."""
    remove(create(f"{os.getpid()}-probe", limits), wait=1.0)


def oom_killed(paths: list[str]) -> bool:
    """True if the kernel's memory cgroup killed a process for going over its limit."""
    for path in paths:
        for name in ("memory.oom_control", "memory.events"):  # v1, v2
            try:
                lines = (Path(path) / name).read_text().splitlines()
            except OSError:
                continue
            counts = dict(line.split() for line in lines if len(line.split()) == 2)
            if int(counts.get("oom_kill", "0")) > 0:
                return True
    return False


def remove(paths: list[str], wait: float = 3.0) -> None:
    """Kill whatever is left in the kernel's cgroups, then remove them."""
    deadline = time.monotonic() + wait
    for path in paths:
        while True:
            _kill_all(Path(path))
            try:
                os.rmdir(path)
                break
            except FileNotFoundError:
                break
            except OSError:
                if time.monotonic() > deadline:
                    log.warning("could not remove cgroup %s", path)
                    break
                time.sleep(0.05)


def emptied(paths: list[str], wait: float = 3.0) -> bool:
    """Kill whatever runs in the kernel's cgroups and return once none of it does (True), or after `wait` seconds
    (False). A process that has exited is no longer listed, even before it is reaped: none of it can write again."""
    deadline = time.monotonic() + wait
    while True:
        for path in paths:
            _kill_all(Path(path))
        if not any(_pids(Path(path)) for path in paths):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


def _pids(path: Path) -> list[int]:
    try:
        return [int(p) for p in (path / "cgroup.procs").read_text().split()]
    except OSError:  # the cgroup is gone: nothing runs in it
        return []


def _kill_all(path: Path) -> None:
    for pid in _pids(path):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def sweep() -> None:
    """Remove the cgroups of kernels whose server died without cleaning up (and whatever still runs in them)."""
    try:
        bases = _bases()
    except CgroupError:
        return  # nothing of ours can be there; the sandbox's probe (`check`) says why
    for base in bases.values():
        for path in base.glob(f"{PREFIX}*") if base.is_dir() else ():
            server = path.name.removeprefix(PREFIX).split("-")[0]
            if server.isascii() and server.isdigit() and not Path(f"/proc/{server}").exists():
                remove([str(path)], wait=1.0)
