"""Open a name beneath a folder's descriptor without following links or leaving it, and regular files only.

openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS does it in one call (Linux 5.6+):
the kernel refuses `..` out of the folder, any link on the way, and /proc's magic links. Where openat2 is missing,
the same holds one name at a time: each folder on the way opened with O_NOFOLLOW | O_DIRECTORY from the one above,
the last name with O_NOFOLLOW, `..` refused.

A file is opened O_NONBLOCK (a FIFO would otherwise wait for a writer forever, and with it whoever asked) and
checked on its descriptor to be a regular file: a name swapped for a FIFO, a socket or a link between a check and
the open is refused, whatever wins the race.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from pathlib import Path
from types import TracebackType

from varro.kernels.fs.walk import DIR_FLAGS, open_child, remove_tree

SYS_OPENAT2 = 437  # the same number on every architecture (added after the tables were unified)
RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, RESOLVE_BENEATH = 0x02, 0x04, 0x08
RESOLVE = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS
FILE_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC


class NotPlain(OSError):
    """The name is there but is not a regular file (a folder, FIFO, socket or device)."""


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_libc = ctypes.CDLL(None, use_errno=True)
_has_openat2: bool | None = None  # unknown until the first call


def _openat2(dir_fd: int, path: bytes, flags: int, mode: int) -> int:
    how = _OpenHow(flags, mode if flags & os.O_CREAT else 0, RESOLVE)
    fd = int(_libc.syscall(SYS_OPENAT2, dir_fd, path, ctypes.byref(how), ctypes.sizeof(how)))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    return fd


def _component_wise(dir_fd: int, path: bytes, flags: int, mode: int) -> int:
    names = [n for n in path.split(b"/") if n not in (b"", b".")]
    if b".." in names:
        raise OSError(errno.EXDEV, "a path beneath a folder may not climb out of it", path)
    if not names:
        return os.open(".", flags | os.O_NOFOLLOW, mode, dir_fd=dir_fd)
    parent = open_child(dir_fd, tuple(os.fsdecode(n) for n in names[:-1]))
    try:
        return os.open(names[-1], flags | os.O_NOFOLLOW, mode, dir_fd=parent)
    finally:
        os.close(parent)


def open_beneath(dir_fd: int, path: str | bytes, flags: int, mode: int = 0o600, *, use_openat2: bool | None = None) -> int:
    """A descriptor for `path` (relative) beneath the folder `dir_fd`; OSError (ELOOP, EXDEV, ENOENT...) when a link,
    `..` out, or an absolute path is in the way. `use_openat2=False` forces the one-name-at-a-time fallback."""
    global _has_openat2
    raw = os.fsencode(path)
    if raw.startswith(b"/"):
        raise OSError(errno.EXDEV, "an absolute path is not beneath a folder", raw)
    if use_openat2 is None:
        use_openat2 = _has_openat2 is not False
    if use_openat2:
        try:
            fd = _openat2(dir_fd, raw, flags | os.O_CLOEXEC, mode)
            _has_openat2 = True
            return fd
        except OSError as exc:
            if exc.errno not in (errno.ENOSYS, errno.EPERM) or _has_openat2:  # EPERM: a filter that refuses it
                raise
            _has_openat2 = False
    return _component_wise(dir_fd, raw, flags | os.O_CLOEXEC, mode)


def open_dir(path: str | Path | bytes, dir_fd: int | None = None) -> int:
    """A descriptor for the folder `path` itself (the chat's folder, named by the server), never through a link."""
    return os.open(path, DIR_FLAGS, dir_fd=dir_fd)


def open_regular(dir_fd: int, path: str | bytes) -> tuple[int, os.stat_result]:
    """An open, non-blocking descriptor for the regular file `path` beneath `dir_fd`, and its fstat; raises
    NotPlain for anything but a regular file, OSError when it is missing or a link is in the way."""
    fd = open_beneath(dir_fd, path, FILE_FLAGS)
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise NotPlain(errno.EINVAL, "not a regular file", os.fsencode(path))
    return fd, st


def read_prefix(dir_fd: int, path: str | bytes, limit: int) -> bytes | None:
    """At most `limit` bytes from the start of the regular file `path`; None when it is not one (or is gone)."""
    try:
        fd, _ = open_regular(dir_fd, path)
    except OSError:
        return None
    try:
        return os.read(fd, limit)
    except OSError:
        return None
    finally:
        os.close(fd)


class Folder:
    """A folder held open by its descriptor, for a few operations by name in it: `with Folder(path) as f: ...`."""

    def __init__(self, path: str | Path) -> None:
        self.fd = open_dir(path)

    def __enter__(self) -> Folder:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def names(self) -> list[str]:
        with os.scandir(self.fd) as it:
            return [e.name for e in it]

    def lstat(self, name: str) -> os.stat_result:
        return os.stat(name, dir_fd=self.fd, follow_symlinks=False)

    def sub(self, name: str) -> Folder:
        """The folder `name` in this one, never through a link (OSError otherwise)."""
        sub = Folder.__new__(Folder)
        sub.fd = open_dir(name, self.fd)
        return sub

    def unlink(self, name: str) -> bool:
        """Remove the name (a link itself, never what it names); False when it was not there."""
        try:
            os.unlink(name, dir_fd=self.fd)
            return True
        except FileNotFoundError:
            return False


def remove_folder(path: str | Path) -> None:
    """Delete the folder `path` (named by the server) and all it holds, however deep, never through a link."""
    path = Path(path)
    try:
        parent = open_dir(path.parent)
    except FileNotFoundError:
        return
    try:
        remove_tree(parent, path.name)
    finally:
        os.close(parent)
