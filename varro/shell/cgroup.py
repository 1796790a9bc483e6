"""A cgroup per kernel, where the machine lets the server make one: memory, process count and CPU share.

rlimits are per process (RLIMIT_AS) or per uid (RLIMIT_NPROC); a cgroup bounds the kernel and every process it
starts together, and lets the server kill all of them at once. cgroup v1 (one hierarchy per controller, as on
these machines) and v2 (one unified hierarchy) are both handled; where neither is writable the kernel runs with
its rlimits only, and start-up logs that once.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from varro.shell.sandbox import Limits

log = logging.getLogger(__name__)

ROOT = Path("/sys/fs/cgroup")
PREFIX = "varro-kernel-"
_warned = False


def _own_path(controller: str) -> str | None:
    """This process's cgroup path in `controller`'s hierarchy (v1), or in the unified one ('' controller)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if (controller and controller in controllers.split(",")) or (not controller and controllers == ""):
            return path
    return None


def _settings(limits: Limits) -> dict[str, dict[str, str]]:
    memory = str(limits.memory_mb * 2**20)
    return {
        "memory": {"memory.limit_in_bytes": memory, "memory.swappiness": "0"},
        "pids": {"pids.max": str(limits.max_procs)},
        "cpu": {"cpu.shares": str(limits.cpu_share)},
    }


def _bases() -> dict[str, Path]:
    """Where this process's kernels' cgroups go, per controller: beside nothing, under our own cgroup."""
    bases: dict[str, Path] = {}
    if (ROOT / "memory").is_dir():  # v1
        for controller in ("memory", "pids", "cpu"):
            own = _own_path(controller)
            if own is not None and (ROOT / controller).is_dir():
                bases[controller] = ROOT / controller / own.lstrip("/")
    elif (ROOT / "cgroup.controllers").exists():  # v2: kernels under our cgroup's parent, as siblings of ours
        own = _own_path("")
        if own is not None:
            bases["unified"] = (ROOT / own.lstrip("/")).parent
    return bases


def create(name: str, limits: Limits) -> list[str]:
    """Make the kernel's cgroups and set their limits; the paths to join (empty where none can be made)."""
    global _warned
    made: list[str] = []
    settings = _settings(limits)
    for controller, base in _bases().items():
        path = base / f"{PREFIX}{name}"
        try:
            path.mkdir(exist_ok=True)
            if controller == "unified":
                _write(path / "memory.max", settings["memory"]["memory.limit_in_bytes"])
                _write(path / "pids.max", settings["pids"]["pids.max"])
                _write(path / "cpu.weight", str(max(1, limits.cpu_share * 100 // 1024)))
            else:
                for key, value in settings[controller].items():
                    _write(path / key, value)
            made.append(str(path))
        except OSError as exc:
            if not _warned:
                log.warning("kernels run without a %s cgroup (%s): their rlimits still hold", controller, exc)
                _warned = True
    return made


def _write(path: Path, value: str) -> None:
    if path.exists():
        path.write_text(value)


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


def _kill_all(path: Path) -> None:
    try:
        pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
    except OSError:
        return
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def sweep() -> None:
    """Remove the cgroups of kernels whose server died without cleaning up (and whatever still runs in them)."""
    for base in _bases().values():
        for path in base.glob(f"{PREFIX}*") if base.is_dir() else ():
            server = path.name.removeprefix(PREFIX).split("-")[0]
            if server.isascii() and server.isdigit() and not Path(f"/proc/{server}").exists():
                remove([str(path)], wait=1.0)
