"""Start one kernel process from a plan: as a script, `python launch.py PLAN [CONNECTION_FILE]`.

PLAN is a JSON object (or the path of a file holding one) written by varro/shell/sandbox.py or by
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
import json
import os
import resource
import sys
from pathlib import Path
from typing import Any

USAGE = "usage: launch.py PLAN [CONNECTION_FILE]"


def unsandboxed_plan(memory_mb: int, argv: list[str]) -> dict[str, Any]:
    return {"rlimits": {"AS": memory_mb * 2**20, "CORE": 0}, "argv": argv}


def chown_tree(path: str, uid: int) -> None:
    os.chown(path, uid, uid, follow_symlinks=False)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, uid, follow_symlinks=False)


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
    with the sandbox), each source is bind-mounted onto `stage/N` first; bwrap binds from there."""
    _unshare_mounts()
    args: list[str] = []
    for n, (mode, source, dest) in enumerate(binds):
        target = os.path.join(stage, str(n))
        if os.path.isdir(source):
            os.makedirs(target, exist_ok=True)
        else:
            open(target, "a").close()
        _mount(source.encode(), target.encode(), MS_BIND | MS_REC)
        args += ["--ro-bind" if mode == "ro" else "--bind", target, dest]
    return args


MS_BIND, MS_REC, MS_PRIVATE, CLONE_NEWNS = 0x1000, 0x4000, 0x40000, 0x20000
_libc = ctypes.CDLL(None, use_errno=True)


def _unshare_mounts() -> None:
    if _libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS) failed")
    # Private, so the staging mounts never propagate back to the server's view of the filesystem.
    _mount(b"none", b"/", MS_REC | MS_PRIVATE)


def _mount(source: bytes, target: bytes, flags: int) -> None:
    if _libc.mount(source, target, None, flags, None) != 0:
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
    text = args[0] if args[0].startswith("{") else Path(args[0]).read_text()
    plan = json.loads(text)
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
