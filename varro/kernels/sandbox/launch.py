"""Start one kernel process from a plan: as a script, `python launch.py PLAN [CONNECTION_FILE]`.

PLAN is a JSON object (or the path of a file holding one) written by varro/kernels/sandbox/plan.py or by
`unsandboxed_plan` below. For a sandboxed kernel, the launcher runs as root and, in this order: hands the kernel's
directories to its uid, joins the kernel's cgroups, stages every directory to bind where the kernel's uid can
reach it (`stage_binds`), sets the rlimits, drops to the kernel's uid (bwrap maps the sandbox's uid to whoever
starts it, so it must not be root), and execs bwrap.
Unsandboxed (`VARRO_SANDBOX=off`), it only sets the rlimits and execs the kernel.

Run by file path, not `-m`, so that it imports nothing of varro or jupyter_client: only the standard library.
`exec` keeps the pid, so the kernel (or bwrap) stays the server's direct child.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import resource
import shutil
import sys
from pathlib import Path
from typing import Any

USAGE = "usage: launch.py PLAN [CONNECTION_FILE]"


def unsandboxed_plan(memory_mb: int, argv: list[str]) -> dict[str, Any]:
    return {"rlimits": {"AS": memory_mb * 2**20, "CORE": 0}, "argv": argv}


def _fs_walk() -> Any:
    """varro/kernels/fs/walk.py, loaded by its path (it needs only the standard library, like this file)."""
    name = "varro_kernels_fs_walk"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "fs/walk.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # before it runs: its dataclass looks itself up there
        spec.loader.exec_module(module)
    return sys.modules[name]


def chown_tree(path: str, uid: int) -> None:
    """The folder and all it holds to `uid`: from descriptors, without recursion (code in the last kernel may have
    left 1,100 nested folders, or links to the host's files: links are changed themselves, never followed)."""
    walk = _fs_walk()
    fd = os.open(path, walk.DIR_FLAGS)
    try:
        walk.chown_tree(fd, uid)
    finally:
        os.close(fd)


def join_cgroups(paths: list[str]) -> None:
    for path in paths:
        Path(path, "cgroup.procs").write_text(str(os.getpid()))


def set_limits(limits: dict[str, int]) -> None:
    # Soft and hard alike, so code in the kernel cannot raise them again.
    for name, value in limits.items():
        resource.setrlimit(getattr(resource, f"RLIMIT_{name}"), (value, value))


def stage_binds(binds: list[list[str]], stage: str) -> list[str]:
    """`--ro-bind`/`--bind` for each (mode, source, dest), from a staging directory that the kernel's uid can walk.

    bwrap runs as the kernel's uid, so it could not reach a source under a directory that uid may not enter (a
    Python under /root, a data folder in a private home). As root, in a mount namespace of this process's own (gone
    with the sandbox), each source is bind-mounted onto `stage/N` first; bwrap binds from there. The stage is a
    tmpfs of this namespace only, each bind is of the source alone (not the mounts beneath it: the run folder holds
    the stage, and the sandbox must not see it), and a read-only bind is read-only here already."""
    _unshare_mounts()
    _mount(b"varro-stage", stage.encode(), MS_NOSUID | MS_NODEV, b"tmpfs", b"mode=0755,size=4m")
    args: list[str] = []
    for n, (mode, source, dest) in enumerate(binds):
        target = os.path.join(stage, str(n))
        if mode == "copy":  # a few small files of the server's own: copied, so their host path shows nowhere
            _copy(source, target)
        else:
            if os.path.isdir(source):
                os.mkdir(target)
            else:
                open(target, "x").close()
            _mount(source.encode(), target.encode(), MS_BIND)
            if mode == "ro":
                _mount(b"none", target.encode(), MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
        args += ["--bind" if mode == "rw" else "--ro-bind", target, dest]
    return args


def _copy(source: str, target: str) -> None:
    """A file, or a folder's files (not its subfolders), copied into the stage."""
    if not os.path.isdir(source):
        shutil.copyfile(source, target)
        return
    os.mkdir(target)
    for entry in os.scandir(source):
        if entry.is_file(follow_symlinks=False):
            shutil.copyfile(entry.path, os.path.join(target, entry.name))


MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 0x1, 0x2, 0x4, 0x8, 0x20
MS_BIND, MS_REC, MS_PRIVATE, CLONE_NEWNS = 0x1000, 0x4000, 0x40000, 0x20000
_libc = ctypes.CDLL(None, use_errno=True)


def _unshare_mounts() -> None:
    if _libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS) failed")
    # Private, so the staging mounts never propagate back to the server's view of the filesystem.
    _mount(b"none", b"/", MS_REC | MS_PRIVATE)


def _mount(source: bytes, target: bytes, flags: int, fstype: bytes | None = None, data: bytes | None = None) -> None:
    if _libc.mount(source, target, fstype, flags, data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source!r} on {target!r}: {os.strerror(err)}")


def seccomp_args(program_hex: str) -> list[str]:
    """bwrap reads the compiled filter from an fd: a pipe, small enough to be written before bwrap reads it."""
    read, write = os.pipe()
    os.write(write, bytes.fromhex(program_hex))
    os.close(write)
    os.set_inheritable(read, True)
    return ["--seccomp", str(read)]


def drop_to(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def fill(argv: list[str], connection_file: str | None) -> list[str]:
    return [connection_file if arg == "{connection_file}" and connection_file else arg for arg in argv]


def main(args: list[str]) -> None:
    if not args or len(args) > 2:
        sys.exit(USAGE)
    if args[0].startswith("{"):
        plan = json.loads(args[0])
    else:  # a file in the kernel's run folder: gone before the kernel starts, which must not read the host's plan
        plan = json.loads(Path(args[0]).read_text())
        if "uid" in plan:
            os.unlink(args[0])
    argv = fill(plan["argv"], args[1] if len(args) > 1 else None)
    if "uid" not in plan:
        set_limits(plan["rlimits"])
        os.execvp(argv[0], argv)
    uid = plan["uid"]
    for path in plan["chown"]:
        chown_tree(path, uid)
    join_cgroups(plan["cgroups"])
    command = [*plan["bwrap"], *stage_binds(plan["binds"], plan["stage"]), *seccomp_args(plan["seccomp"])]
    for key, value in plan.get("env", {}).items():
        command += ["--setenv", key, value]
    set_limits(plan["rlimits"])
    drop_to(uid)
    os.execv(command[0], [*command, "--", *argv])


if __name__ == "__main__":
    main(sys.argv[1:])
