"""Dropping root: the web tier's processes run as an unprivileged user, whatever started them.

`python -m app` started as root (as `make run` is on a fresh machine) starts the kernel host, the only part that
must stay root, reads what only root may read (the session key file), hands the app's data folder to the web user,
and then becomes that user for good (groups, gid, uid: no way back) before it serves a single request.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import signal
from pathlib import Path

_PR_SET_PDEATHSIG, _PR_GET_PDEATHSIG = 1, 2
_libc = ctypes.CDLL(None, use_errno=True)


class CannotDrop(RuntimeError):
    pass


def drop_to(user: str, writable: list[Path]) -> pwd.struct_passwd:
    """Become `user` for good; `writable` folders (created if missing) are handed to it first."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise CannotDrop(f"the web tier's user {user!r} does not exist (`make setup` creates it; or set "
                         "VARRO_USER to an existing unprivileged user)") from None
    if entry.pw_uid == 0:
        raise CannotDrop(f"VARRO_USER={user} is root: the web tier must run unprivileged")
    for folder in writable:
        folder.mkdir(parents=True, exist_ok=True)
        hand_over(folder, entry.pw_uid, entry.pw_gid)
    death_signal = parent_death_signal()
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    if os.geteuid() == 0 or os.getegid() == 0:
        raise CannotDrop("still root after dropping privileges")
    # Linux clears the signal a process gets when its parent dies on a change of credentials: whoever started us
    # asked for it (a supervisor, the tests' server harness), so that we don't outlive it; keep that promise.
    if death_signal:
        die_with_parent(death_signal)
    os.environ.update(HOME=entry.pw_dir, USER=user, LOGNAME=user)
    return entry


def hand_over(folder: Path, uid: int, gid: int) -> None:
    """The folder and what is in it become the user's (links are changed themselves, never followed)."""
    os.chown(folder, uid, gid, follow_symlinks=False)
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)


def parent_death_signal() -> int:
    """The signal this process gets when its parent dies (0: none), as `prctl(PR_GET_PDEATHSIG)` says."""
    value = ctypes.c_int(0)
    if _libc.prctl(_PR_GET_PDEATHSIG, ctypes.byref(value), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_GET_PDEATHSIG)")
    return value.value


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Be sent `sig` when the parent dies (also usable as a `preexec_fn`: one system call, nothing allocated)."""
    if _libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
