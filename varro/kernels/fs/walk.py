"""Walk, chown and remove a tree from directory file descriptors: no recursion, no paths, no links followed.

A tree under a chat's folder may be 1,100 folders deep, hold names longer than any path the kernel accepts in one
call, or change while it is walked (code in the kernel renames, swaps and links as it likes). So each folder is
opened from its parent's descriptor by one name, with O_NOFOLLOW | O_DIRECTORY: a name swapped for a link fails to
open and is skipped, never followed, and nothing is ever looked up by a full path.

The standard library only (varro/kernels/sandbox/launch.py runs before anything of varro can be imported, and loads this
file by its path).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
FD_BUDGET = 128  # folders held open at once by a walk; deeper than that, folders are reopened from an ancestor
KINDS = {stat.S_IFDIR: "dir", stat.S_IFREG: "file", stat.S_IFLNK: "link"}


@dataclass(frozen=True)
class Entry:
    """One name in the tree, as lstat saw it. `dir_fd` (its folder) is open only until the walk moves on."""

    path: tuple[str, ...]  # names from the top, each with surrogateescape
    kind: str  # "dir", "file", "link" or "other" (FIFO, socket, device)
    size: int  # apparent size in bytes
    uid: int
    dir_fd: int

    @property
    def name(self) -> str:
        return self.path[-1]

    @property
    def rel(self) -> bytes:
        """The path from the top as bytes (may be longer than PATH_MAX: for keys and messages, never for a call)."""
        return b"/".join(os.fsencode(n) for n in self.path)


class _Anchor:
    """An open folder that queued subfolders are opened from; closed when the last of them is."""

    __slots__ = ("fd", "users")

    def __init__(self, fd: int) -> None:
        self.fd, self.users = fd, 1


def open_child(dir_fd: int, names: tuple[str, ...]) -> int:
    """The folder `names` below `dir_fd`, one name at a time, never through a link."""
    fd = os.dup(dir_fd)
    for name in names:
        try:
            nxt = os.open(name, DIR_FLAGS, dir_fd=fd)
        finally:
            os.close(fd)
        fd = nxt
    return fd


def _entries(fd: int) -> list[str]:
    try:
        with os.scandir(fd) as it:
            return [e.name for e in it]
    except OSError:  # gone, or not listable: nothing under it to count
        return []


def walk(top_fd: int, budget: int = FD_BUDGET) -> Iterator[Entry]:
    """Every entry under the folder `top_fd` (not itself), each folder's entries before anything below them.

    Entries that vanish or change kind meanwhile are skipped; a folder swapped for a link is reported as the link
    (or not at all), never entered. The caller may unlink or chown an entry through `entry.dir_fd` while it holds it.
    """
    held: set[_Anchor] = set()
    top = _Anchor(os.dup(top_fd))
    held.add(top)
    stack: list[tuple[_Anchor, tuple[str, ...], tuple[str, ...]]] = [(top, (), ())]
    try:
        while stack:
            anchor, hops, rel = stack.pop()
            try:
                fd = open_child(anchor.fd, hops)
            except OSError:
                fd = -1
            if fd < 0:
                _release(anchor, held)
                continue
            here = _Anchor(fd)
            held.add(here)
            for name in _entries(fd):
                try:
                    st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                except OSError:
                    continue
                kind = KINDS.get(stat.S_IFMT(st.st_mode), "other")
                yield Entry((*rel, name), kind, st.st_size, st.st_uid, fd)
                if kind != "dir":
                    continue
                if len(held) < budget:  # open below this folder's descriptor
                    here.users += 1
                    stack.append((here, (name,), (*rel, name)))
                else:  # too many open: reopened from this folder's own anchor, one name at a time
                    anchor.users += 1
                    stack.append((anchor, (*hops, name), (*rel, name)))
            _release(here, held)
            _release(anchor, held)
    finally:
        for a in held:
            os.close(a.fd)


def _release(anchor: _Anchor, held: set[_Anchor]) -> None:
    anchor.users -= 1
    if anchor.users == 0:
        held.discard(anchor)
        os.close(anchor.fd)


def chown_tree(top_fd: int, uid: int, gid: int | None = None) -> int:
    """Give the folder `top_fd` and everything under it to `uid` (links themselves, never what they name); how
    many entries changed owner."""
    gid = uid if gid is None else gid
    os.fchown(top_fd, uid, gid)
    changed = 1
    for entry in walk(top_fd):
        try:
            os.chown(entry.name, uid, gid, dir_fd=entry.dir_fd, follow_symlinks=False)
            changed += 1
        except OSError:  # gone meanwhile
            continue
    return changed


def remove_tree(dir_fd: int, name: str, budget: int = FD_BUDGET) -> None:
    """Delete `name` in the folder `dir_fd` and everything under it, never through a link.

    Depth first, holding the open folders on the way down; past `budget` levels a folder is moved up to just below
    the tree's top (a rename inside the tree being removed), so any depth is removed with a bounded number of
    descriptors."""
    try:
        top = os.open(name, DIR_FLAGS, dir_fd=dir_fd)
    except OSError:  # not a folder (or a link to one): the name alone goes
        try:
            os.unlink(name, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        return
    # (open folder, its name in the folder above, names in it still to remove): each folder listed once, and once
    # more when it seems empty (folders moved up, or written meanwhile), so 60,000 siblings cost 60,000 steps.
    path: list[tuple[int, str, list[str]]] = [(top, name, _entries(top))]
    moved = 0
    try:
        while path:
            fd, _, pending = path[-1]
            deeper = None
            while pending and deeper is None:
                child = pending.pop()
                try:
                    os.unlink(child, dir_fd=fd)
                    continue
                except IsADirectoryError:
                    pass
                except FileNotFoundError:
                    continue
                if len(path) >= budget:
                    moved = _move_up(fd, child, top, moved)
                    continue
                try:
                    sub = os.open(child, DIR_FLAGS, dir_fd=fd)
                except OSError:
                    continue
                deeper = (sub, child, _entries(sub))
            if deeper is not None:
                path.append(deeper)
                continue
            if again := _entries(fd):
                pending.extend(again)
                continue
            done, done_name, _ = path.pop()
            os.close(done)
            os.rmdir(done_name, dir_fd=path[-1][0] if path else dir_fd)
    finally:
        for fd, _, _ in path:
            os.close(fd)


def _move_up(dir_fd: int, name: str, top: int, moved: int) -> int:
    """Move the folder `name` to just below `top` under a free name; the count of moves so far."""
    while True:
        moved += 1
        try:
            os.rename(name, f".flat-{moved}", src_dir_fd=dir_fd, dst_dir_fd=top)
            return moved
        except FileNotFoundError:
            return moved
        except OSError:  # the name is taken (by a folder that is not empty): the next one
            if moved > 1_000_000:
                raise
