"""Where a chat's namespace snapshots live on its kernel host: listed and pruned by the host only.

A snapshot `turn-N.pkl` holds the kernel's names as they were at the end of the turn whose id is N
(varro/kernels/sandbox/inside/snapshot.py writes and reads it, inside the kernel). Named by the turn's id rather than its
position, because a chat's turns form a tree (docs/design.md, "Versions"): two versions of turn 3 have snapshots of
their own, and a restore uses the one of the branch shown (varro/shell/snapshots.py chooses). They sit in the chat's
folder under `.snapshots/by-id/`, so they belong to the chat's owner, count against its quota, and go with the chat.
The host lists and deletes them from the folder's descriptor: code in the kernel may have made `.snapshots` a link
to another chat's, and then there is nothing to list or delete.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from varro.files import SNAPSHOT_FOLDER as FOLDER
from varro.files import SNAPSHOT_ROOT as ROOT
from varro.kernels import fs

KEEP = 6  # the latest few: an edit a few turns back, or a switch to a recent branch, still finds one
_NAME = re.compile(r"^turn-(\d+)\.pkl$")


@dataclass(frozen=True)
class Snapshots:
    workdir: Path

    def path(self, turn_id: int) -> Path:
        return self.workdir / FOLDER / f"turn-{turn_id}.pkl"

    def _folder(self, folder: str) -> fs.Folder | None:
        """`folder` (ROOT or FOLDER) itself, never through a link; None when it is not a folder there."""
        try:
            with fs.Folder(self.workdir) as chat:
                found = chat.sub(ROOT)
            if folder == ROOT:
                return found
            with found:
                return found.sub(folder.removeprefix(f"{ROOT}/"))
        except OSError:
            return None

    def turns(self, folder: str = FOLDER) -> list[int]:
        """The ids of the turns that have a snapshot, oldest first."""
        where = self._folder(folder)
        if where is None:
            return []
        with where:
            return sorted(int(m[1]) for name in where.names() if (m := _NAME.match(name)))

    def _delete(self, doomed: Callable[[list[int]], list[int]], folder: str = FOLDER) -> None:
        where = self._folder(folder)
        if where is None:
            return
        with where:
            turns = sorted(int(m[1]) for name in where.names() if (m := _NAME.match(name)))
            for k in doomed(turns):
                where.unlink(f"turn-{k}.pkl")

    def prune(self, keep: int = KEEP) -> None:
        """Keep the `keep` newest snapshots (whatever their branch) and none of those named the old way."""
        self._delete(lambda turns: turns[:-keep])
        self._delete(lambda turns: turns, ROOT)


def copy_snapshot(src: Path, turn_id: int, dst: Path, as_turn: int) -> bool:
    """Copy the snapshot of turn `turn_id` of the chat whose folder is `src` into the chat whose folder is `dst`, as
    the snapshot of its turn `as_turn` (a shared chat continued by a viewer: the copy's shell comes back from it).
    False when `src` has no such snapshot or `dst` can't take it. Both ends by descriptor, never through a link: code in either chat's
    kernel may have made `.snapshots` a link somewhere else. Written whole, then renamed into place."""
    try:
        with fs.Folder(src) as chat:
            fd, _ = fs.open_regular(chat.fd, f"{FOLDER}/turn-{turn_id}.pkl")
    except OSError:
        return False
    try:
        dst.mkdir(parents=True, exist_ok=True)
        owner = os.stat(dst)
        folder = fs.open_dir(dst)
    except OSError:
        os.close(fd)
        return False
    try:
        for part in FOLDER.split("/"):
            try:
                os.mkdir(part, 0o755, dir_fd=folder)
            except FileExistsError:
                pass
            inner = fs.open_dir(part, dir_fd=folder)
            os.close(folder)
            folder = inner
        name, tmp = f"turn-{as_turn}.pkl", f".turn-{as_turn}.pkl.tmp"
        out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644, dir_fd=folder)
        with os.fdopen(fd, "rb") as reader, os.fdopen(out, "wb") as writer:
            fd = -1
            shutil.copyfileobj(reader, writer, 2**20)
            if os.geteuid() == 0:  # the chat's kernel uid owns its folder: its kernel reads (and later prunes) it
                os.fchown(writer.fileno(), owner.st_uid, owner.st_gid)
        os.rename(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
        return True
    except OSError:  # `.snapshots` there is a link, say: nothing written through it
        return False
    finally:
        os.close(folder)
        if fd >= 0:
            os.close(fd)
