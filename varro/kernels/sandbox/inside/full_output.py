"""The whole output of a cell that printed more than the page shows, written by the kernel itself into the chat's
working directory as `.outputs/cell-<request>.txt` (stdout and stderr in the order they came).

Only such cells get a file: the first `THRESHOLD` characters wait in memory, and the file is made once a cell passes
them (and removed at the end if no stream was cut after all). A file stops at `FILE_CAP` bytes, or at half of what the
chat's quota has left when it is made (so saving output never pushes a chat past its quota, which would stop the
kernel), and says so in its last line; the newest `KEEP` files are kept.
"""

from __future__ import annotations

import os
import re
import resource
import stat
from collections import defaultdict
from typing import IO

FOLDER = ".outputs"
KEEP = 20
THRESHOLD = 15_000  # output_caps.HEAD_CAP: below it no stream can have been cut
FILE_CAP = int(os.environ.get("VARRO_KERNEL_OUTPUT_FILE_CAP", str(64 * 2**20)))  # bytes

_home: int | None = None  # the working directory, held open: a pooled kernel's folder is renamed to the chat's later
_pending: dict[str, list[str]] = defaultdict(list)  # request -> what it printed, until its file is made
_pending_size: dict[str, int] = defaultdict(int)
_files: dict[str, IO[bytes] | None] = {}  # request -> its open file; None once the file stopped (cap, quota)
_written: dict[str, int] = defaultdict(int)
_caps: dict[str, int] = {}  # request -> the bytes its file may take


def install(threshold: int = THRESHOLD) -> None:
    """Hold the kernel's starting folder (the chat's working directory), whatever a cell later chdirs to."""
    global _home, THRESHOLD
    _home, THRESHOLD = os.open(".", os.O_RDONLY | os.O_DIRECTORY), threshold


def _folder() -> int:
    try:
        os.mkdir(FOLDER, 0o755, dir_fd=_home)
    except FileExistsError:
        pass
    return os.open(FOLDER, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=_home)


def _base(request: str) -> str:
    return f"cell-{re.sub(r'[^A-Za-z0-9_-]', '', request)[:80] or 'unknown'}.txt"


def name_of(request: str) -> str:
    return f"{FOLDER}/{_base(request)}"


def add(request: str, text: str) -> None:
    """Everything a cell prints passes here, before any cap."""
    if request in _files:
        _append(request, text)
        return
    _pending[request].append(text)
    _pending_size[request] += len(text)
    if _pending_size[request] > THRESHOLD:
        _open(request)


def _open(request: str) -> None:
    try:
        folder = _folder()
        try:
            _prune(folder)
            fd = os.open(_base(request), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644, dir_fd=folder)
        finally:
            os.close(folder)
        _files[request] = open(fd, "wb")
        _caps[request] = _room()
    except (OSError, TypeError):  # no folder held (not installed), or none can be made
        _files[request] = None
    _pending_size.pop(request, None)
    for text in _pending.pop(request, []):
        _append(request, text)


def _append(request: str, text: str) -> None:
    file = _files[request]
    if file is None:
        return
    data = text.encode("utf-8", errors="replace")
    room = _caps[request] - _written[request]
    try:
        file.write(data[:room])
        _written[request] += min(room, len(data))
        if len(data) > room:
            file.write(f"\n… [the output went on; this file stops at {_caps[request]} bytes]\n".encode())
            _stop(request)
    except OSError:  # the chat's files are full (its quota, or the largest file allowed)
        _stop(request)


def _stop(request: str) -> None:
    file = _files[request]
    _files[request] = None
    if file is not None:
        try:
            file.close()
        except OSError:
            pass


def _room() -> int:
    """The bytes a new file may take: at most `FILE_CAP`, and at most half of what the chat's quota has left. In the
    sandbox the largest file the kernel may write (RLIMIT_FSIZE) is the chat's quota (varro/kernels/sandbox/isolation.py)."""
    quota = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    if quota == resource.RLIM_INFINITY:
        return FILE_CAP
    used = 0
    for _, _, files, folder in os.fwalk(".", dir_fd=_home):
        for name in files:
            st = os.stat(name, dir_fd=folder, follow_symlinks=False)
            used += st.st_size if stat.S_ISREG(st.st_mode) else 0
    return max(0, min(FILE_CAP, (quota - used) // 2))


def _prune(folder: int) -> None:
    """Room for one more file: the oldest beyond the newest `KEEP - 1` go."""
    entries = sorted((e for e in os.scandir(folder) if e.is_file(follow_symlinks=False)),
                     key=lambda e: e.stat(follow_symlinks=False).st_mtime_ns)
    for entry in entries[: max(0, len(entries) - KEEP + 1)]:
        os.unlink(entry.name, dir_fd=folder)


def finish(request: str, needed: bool) -> str | None:
    """At the end of a cell: its file's name (relative to the working directory) if a stream was cut, else None (and
    no file)."""
    _pending.pop(request, None)
    _pending_size.pop(request, None)
    _written.pop(request, None)
    _caps.pop(request, None)
    made = request in _files
    if made:
        _stop(request)
        _files.pop(request, None)
    if made and needed:
        return name_of(request)
    if made:
        try:
            os.unlink(name_of(request), dir_fd=_home)
        except (OSError, TypeError):
            pass
    return None
