"""Dropping root: the web tier's processes run as an unprivileged user, whatever started them.

`python -m app` started as root (as `make run` is on a fresh machine) starts the kernel host, the only part that
must stay root, reads what only root may read (the session key file), hands the app's data folder to the web user,
and then becomes that user for good (groups, gid, uid: no way back) before it serves a single request.
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path


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
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    if os.geteuid() == 0 or os.getegid() == 0:
        raise CannotDrop("still root after dropping privileges")
    os.environ.update(HOME=entry.pw_dir, USER=user, LOGNAME=user)
    return entry


def hand_over(folder: Path, uid: int, gid: int) -> None:
    """The folder and what is in it become the user's (links are changed themselves, never followed)."""
    os.chown(folder, uid, gid, follow_symlinks=False)
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)
