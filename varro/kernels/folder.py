"""A chat's folder on its kernel host: files a user gives the chat, placed where its code finds them by name; what
the Files view lists, downloads read and the model is told of an attachment. Every operation works from the folder's
descriptors (varro/kernels/fs): code in the kernel controls every name in the folder.

A file is written to a hidden staging folder beside the chat's folders while it arrives, with the size cap enforced
as bytes come in, and only then linked into the working directory under a name that is not taken yet: code never
sees half a file, a refused upload leaves nothing behind, and an upload never overwrites a file silently.
"""

from __future__ import annotations

import asyncio
import os
import re
import stat
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from varro.files import ChatFile, UploadRefused, checked_name, human_size, media_type_of
from varro.kernels import fs

PREVIEW_LINES = 5
PREVIEW_CHARS = 2000
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/x-ndjson")


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


def place(tmp: Path, workdir: Path, name: str) -> str:
    """A finished upload at `tmp` becomes a file of `workdir` under the first free name like `name`."""
    workdir.mkdir(parents=True, exist_ok=True)
    return _place(tmp, workdir, name)


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
    opened = open_plain(workdir, name)
    if opened is None:
        return None
    fd, size = opened
    os.close(fd)
    return ChatFile(fs.shown(name), size, media_type_of(name))


OUTPUTS = ".outputs"  # where the kernel writes a cell's whole output (varro/kernels/sandbox/inside/full_output.py)
_OUTPUT_NAME = re.compile(r"cell-[A-Za-z0-9_-]{1,80}\.txt")


def open_output(workdir: Path, name: str) -> tuple[int, int] | None:
    """An open descriptor and size for the saved output `name` (`cell-….txt`) in the chat's `.outputs/`; never through
    a link, and None for any other name. The one place the web side reads that folder."""
    if not _OUTPUT_NAME.fullmatch(name):
        return None
    return _open_beneath(workdir, f"{OUTPUTS}/{name}")


def _open_beneath(workdir: Path, rel: str) -> tuple[int, int] | None:
    """The regular file `rel` beneath `workdir` (no link on the way, no FIFO): its descriptor and size, or None."""
    try:
        folder = fs.open_dir(workdir)
    except OSError:
        return None
    try:
        fd, st = fs.open_regular(folder, rel)
    except OSError:
        return None
    finally:
        os.close(folder)
    return fd, st.st_size


def open_plain(workdir: Path, name: str) -> tuple[int, int] | None:
    """An open descriptor and size for the plain file `name` in `workdir`, never through a link and never blocking:
    code in the kernel could swap the file for a link, a FIFO or a socket between a check and an open."""
    try:
        return _open_beneath(workdir, checked_name(name))
    except UploadRefused:
        return None


Listing = dict[str, tuple[int, int]]  # name -> (size, modification time in ns)


def listing(workdir: Path) -> Listing:
    """The plain files at the top of `workdir` (links and hidden files aside), to tell what a cell changed."""
    found: Listing = {}
    try:
        folder = fs.Folder(workdir)
    except OSError:
        return found
    with folder:
        for name in folder.names():
            try:
                st = folder.lstat(name)
            except OSError:
                continue
            if not name.startswith(".") and stat.S_ISREG(st.st_mode):
                found[name] = (st.st_size, st.st_mtime_ns)
    return found


def changed(before: Listing, after: Listing) -> list[str]:
    """Files that are new in `after` or differ from `before`, by name."""
    return sorted(name for name, seen in after.items() if before.get(name) != seen)


def remove(workdir: Path, name: str) -> bool:
    """Delete the file `name` from `workdir` (a chip removed before sending); False when there was none."""
    if describe(workdir, name) is None:
        return False
    try:
        with fs.Folder(workdir) as folder:
            return folder.unlink(name)  # the name itself: were it swapped for a link since, the link goes
    except OSError:
        return False


def preview(workdir: Path, file: ChatFile) -> str | None:
    """The first lines of a text or CSV file, for the model; None for anything else."""
    if not (file.media_type.startswith(TEXT_TYPES) or file.name.endswith((".csv", ".tsv", ".txt", ".md", ".json"))):
        return None
    try:
        folder = fs.open_dir(workdir)
    except OSError:
        return None
    try:  # a regular file beneath the folder only: never a link out (the host's secrets), never a FIFO (a hang)
        raw = fs.read_prefix(folder, file.name, PREVIEW_CHARS)
    finally:
        os.close(folder)
    if raw is None:
        return None
    head = raw.decode("utf-8", errors="replace")
    return "\n".join(head.splitlines()[:PREVIEW_LINES])


def for_model(workdir: Path, files: list[ChatFile]) -> str:
    """What the model is told of the files with a message: name, size, type, and the first lines of text."""
    lines = ["The user attached these files; they are in the shell's working directory, so code opens them by name:"]
    for f in files:
        lines.append(f"- {f.name} ({human_size(f.size)}, {f.media_type})")
        if (head := preview(workdir, f)) is not None:
            lines += ["  First lines:", *(f"    {line}" for line in head.splitlines())]
    return "\n".join(lines)
