"""Images that tools produce: saved by content hash per user and chat, served to their owner only."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from varro.chat.content import Attachment
from varro.files import media_type_of
from varro.images import image_size
from varro.names import shown
from varro.shell.hosts import KernelHosts
from varro.shell.result import Image

EXTENSIONS = {"image/png": "png", "image/svg+xml": "svg", "image/jpeg": "jpg", "image/gif": "gif"}


@dataclass(frozen=True)
class UploadStore:
    """Files live at `{root}/{user}/{chat}/{sha256}.{ext}`; paths in turns are relative to root."""

    root: Path
    max_bytes: int = 2**40  # per chat: files copied out of its folder stop here (VARRO_MAX_CHAT_COPIES_MB)

    def save(self, user_id: int, chat_id: int, image: Image) -> Attachment:
        digest = hashlib.sha256(image.data).hexdigest()
        rel = f"{user_id}/{chat_id}/{digest}.{EXTENSIONS.get(image.media_type, 'bin')}"
        path = self.root / rel
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(image.data)
            tmp.replace(path)  # atomic: a reader never sees half a file
        size = image_size(image.data)
        return Attachment(path=rel, media_type=image.media_type, width=size and size[0], height=size and size[1])

    async def save_file(self, host: KernelHosts, user_id: int, chat_id: int, name: str) -> Attachment | None:
        """A copy of the file `name` that a cell wrote in the chat's folder (read from its kernel host), kept by
        content hash like an image, so its link serves what the cell made even after later code changes the file;
        None if it is gone, not a plain file, or the chat's copies would pass `max_bytes`."""
        opened = await host.read_file(user_id, chat_id, name)
        if opened is None:
            return None
        size, chunks = opened
        folder = self.root / str(user_id) / str(chat_id)
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        if await asyncio.to_thread(_used, folder) + size > self.max_bytes:
            await chunks.aclose()  # type: ignore[attr-defined]
            return None
        digest = hashlib.sha256()
        written = 0
        tmp = await asyncio.to_thread(tempfile.NamedTemporaryFile, "wb", dir=folder, suffix=".tmp", delete=False)
        try:
            async for chunk in chunks:
                written += len(chunk)
                if written > size:  # the file grew while it was read: keep what was announced, no more
                    break
                digest.update(chunk)
                await asyncio.to_thread(tmp.file.write, chunk)
        finally:
            tmp.close()
        rel = f"{user_id}/{chat_id}/{digest.hexdigest()}.bin"  # .bin: served as bytes, never as a page
        await asyncio.to_thread(Path(tmp.name).replace, self.root / rel)
        # The name as text any page or database takes: a name that is not UTF-8 must not lose the cell's result.
        return Attachment(path=rel, media_type=media_type_of(name), name=shown(name), size=min(written, size))

    def resolve(self, user_id: int, rel: str) -> Path | None:
        """The file for `rel` if it is this user's and exists; None for anything else (the caller says 404)."""
        parts = Path(rel).parts
        if len(parts) != 3 or parts[0] != str(user_id) or any(p in ("..", ".") or p.startswith("/") for p in parts):
            return None
        root = self.root.resolve()
        path = (root / rel).resolve()
        if not path.is_relative_to(root / str(user_id)) or not path.is_file():
            return None
        return path

    def drop_chat(self, user_id: int, chat_id: int) -> None:
        shutil.rmtree(self.root / str(user_id) / str(chat_id), ignore_errors=True)


def _used(folder: Path) -> int:
    return sum(entry.stat().st_size for entry in os.scandir(folder) if entry.is_file(follow_symlinks=False))
