"""Files a user gives a chat: streamed into the chat's working directory, where its code finds them by name.

A file is written to a hidden staging folder beside the chat's folders while it arrives, with the size cap enforced
as bytes come in, and only then linked into the working directory under a name that is not taken yet: code never
sees half a file, a refused upload leaves nothing behind, and an upload never overwrites a file silently.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
import stat
import tempfile
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PREVIEW_LINES = 5
PREVIEW_CHARS = 2000
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-ndjson")
_FORBIDDEN = set('/\\\x00:*?"<>|')


class UploadRefused(ValueError):
    """An upload that was not stored; the message is what the user reads. `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ChatFile:
    """A file in a chat's working directory, as a turn names it."""

    name: str
    size: int
    media_type: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{size} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"  # unreachable


def media_type_of(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def checked_name(raw: str) -> str:
    """`raw` if it names a plain file in the folder; refuses anything that would leave it, hide in it, or clash
    with the chat's own hidden files (`.snapshots`)."""
    name = raw.strip()
    if not name:
        raise UploadRefused("The file has no name.")
    if name in (".", "..") or any(c in _FORBIDDEN or ord(c) < 32 for c in name):
        raise UploadRefused(f"The name {raw[:80]!r} is not a plain file name (no folders, no '..'), so it was not stored.")
    if name.startswith("."):
        raise UploadRefused(f"The name {raw[:80]!r} starts with a dot; rename the file and try again.")
    if len(name.encode()) > 200:
        raise UploadRefused("The file name is too long (at most 200 bytes).")
    return name


def free_name(folder: Path, name: str) -> str:
    """`name`, or "name (1).ext", "name (2).ext"... the first not taken in `folder`."""
    stem, dot, ext = name.rpartition(".") if "." in name.strip(".") else (name, "", "")
    n = 0
    while True:
        candidate = name if n == 0 else f"{stem} ({n}){dot}{ext}"
        if not os.path.lexists(folder / candidate):  # a dangling link takes its name too
            return candidate
        n += 1


def _owner_of(folder: Path) -> tuple[int, int]:
    st = folder.stat()
    return st.st_uid, st.st_gid


def _staged(workdir: Path) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    staging = workdir.parent / ".incoming"  # beside the chat's folder: same filesystem, outside the kernel's view
    staging.mkdir(exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=staging)
    os.close(fd)
    return Path(tmp)


def _place(tmp: Path, workdir: Path, name: str) -> str:
    """Link the finished file into `workdir` under the first free name like `name`; returns that name."""
    uid, gid = _owner_of(workdir)
    if os.geteuid() == 0:  # the running kernel's uid owns the folder: let its code change the file too
        os.chown(tmp, uid, gid)
    tmp.chmod(0o644)
    while True:
        final = free_name(workdir, name)
        try:
            os.link(tmp, workdir / final)  # fails rather than overwrite a file that appeared meanwhile
            return final
        except FileExistsError:
            continue


async def receive(workdir: Path, raw_name: str, chunks: AsyncIterator[bytes], max_bytes: int) -> ChatFile:
    """Store the body as a new file in `workdir`; raises `UploadRefused` (and keeps nothing) for bad input."""
    name = checked_name(raw_name)
    tmp = await asyncio.to_thread(_staged, workdir)
    try:
        size = 0
        with open(tmp, "wb") as out:  # noqa: ASYNC230 - small writes to a local file, as a chunk arrives
            async for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise UploadRefused(f"{name} is too large: the limit is {human_size(max_bytes)} a file.", 413)
                out.write(chunk)
        if size == 0:
            raise UploadRefused(f"{name} is empty, so it was not stored.")
        final = await asyncio.to_thread(_place, tmp, workdir, name)
        return ChatFile(final, size, media_type_of(final))
    finally:
        await asyncio.to_thread(tmp.unlink, missing_ok=True)


def describe(workdir: Path, name: str) -> ChatFile | None:
    """The file `name` in `workdir` as it is now, or None when it is not a plain file there."""
    try:
        path = workdir / checked_name(name)
    except UploadRefused:
        return None
    if path.is_symlink() or not path.is_file():
        return None
    return ChatFile(path.name, path.stat().st_size, media_type_of(path.name))


def open_plain(workdir: Path, name: str) -> tuple[int, int] | None:
    """An open descriptor and size for the plain file `name` in `workdir`, never through a link: code in the
    kernel could swap the file for a link to elsewhere between a check and an open."""
    try:
        fd = os.open(workdir / checked_name(name), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except (UploadRefused, OSError):
        return None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        return None
    return fd, st.st_size


Listing = dict[str, tuple[int, int]]  # name -> (size, modification time in ns)


def listing(workdir: Path) -> Listing:
    """The plain files at the top of `workdir` (links and hidden files aside), to tell what a cell changed."""
    found: Listing = {}
    try:
        entries = list(os.scandir(workdir))
    except OSError:
        return found
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        found[entry.name] = (st.st_size, st.st_mtime_ns)
    return found


def changed(before: Listing, after: Listing) -> list[str]:
    """Files that are new in `after` or differ from `before`, by name."""
    return sorted(name for name, seen in after.items() if before.get(name) != seen)


def remove(workdir: Path, name: str) -> bool:
    """Delete the file `name` from `workdir` (a chip removed before sending); False when there was none."""
    file = describe(workdir, name)
    if file is None:
        return False
    (workdir / file.name).unlink(missing_ok=True)
    return True


def preview(workdir: Path, file: ChatFile) -> str | None:
    """The first lines of a text or CSV file, for the model; None for anything else."""
    if not (file.media_type.startswith(TEXT_TYPES) or file.name.endswith((".csv", ".tsv", ".txt", ".md", ".json"))):
        return None
    try:
        with (workdir / file.name).open("rb") as f:
            head = f.read(PREVIEW_CHARS).decode("utf-8", errors="replace")
    except OSError:
        return None
    return "\n".join(head.splitlines()[:PREVIEW_LINES])


def for_model(workdir: Path, files: list[ChatFile]) -> str:
    """What the model is told of the files with a message: name, size, type, and the first lines of text."""
    lines = ["The user attached these files; they are in the shell's working directory, so code opens them by name:"]
    for f in files:
        lines.append(f"- {f.name} ({human_size(f.size)}, {f.media_type})")
        if (head := preview(workdir, f)) is not None:
            lines += ["  First lines:", *(f"    {line}" for line in head.splitlines())]
    return "\n".join(lines)
