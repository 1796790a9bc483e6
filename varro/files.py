"""A chat's files as both tiers name them: a file's description, the rules for a name, the refusal a user reads.

The files themselves live in the chat's folder on its kernel host (varro/kernels/folder.py does the work there).
"""

from __future__ import annotations

import mimetypes
import os
from dataclasses import asdict, dataclass
from typing import Any

# The kernel's snapshots, in the chat's folder: the kernel host keeps them (varro/kernels/snapshots.py), the web tier
# names the one a restore uses (varro/shell/snapshots.py). Named by turn id under SNAPSHOT_FOLDER; the ones directly
# in SNAPSHOT_ROOT were named by position (before turns had versions).
SNAPSHOT_ROOT = ".snapshots"
SNAPSHOT_FOLDER = f"{SNAPSHOT_ROOT}/by-id"

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
    if len(os.fsencode(name)) > 200:  # any bytes: a name code wrote need not be UTF-8
        raise UploadRefused("The file name is too long (at most 200 bytes).")
    return name
