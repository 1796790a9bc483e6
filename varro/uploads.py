"""Images that tools produce: saved by content hash per user and chat, served to their owner only."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from varro.chat.content import Attachment
from varro.files import media_type_of, open_plain
from varro.shell.result import Image

EXTENSIONS = {"image/png": "png", "image/svg+xml": "svg", "image/jpeg": "jpg", "image/gif": "gif"}


@dataclass(frozen=True)
class UploadStore:
    """Files live at `{root}/{user}/{chat}/{sha256}.{ext}`; paths in turns are relative to root."""

    root: Path

    def save(self, user_id: int, chat_id: int, image: Image) -> Attachment:
        digest = hashlib.sha256(image.data).hexdigest()
        rel = f"{user_id}/{chat_id}/{digest}.{EXTENSIONS.get(image.media_type, 'bin')}"
        path = self.root / rel
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(image.data)
            tmp.replace(path)  # atomic: a reader never sees half a file
        return Attachment(path=rel, media_type=image.media_type)

    def save_file(self, user_id: int, chat_id: int, workdir: Path, name: str) -> Attachment | None:
        """A copy of the file `name` that a cell wrote in `workdir`, kept by content hash like an image, so its link
        serves what the cell made even after later code changes the file; None if it is gone or not a plain file."""
        opened = open_plain(workdir, name)
        if opened is None:
            return None
        fd, size = opened
        folder = self.root / str(user_id) / str(chat_id)
        folder.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with os.fdopen(fd, "rb") as src, tempfile.NamedTemporaryFile(dir=folder, suffix=".tmp", delete=False) as tmp:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                tmp.write(chunk)
        rel = f"{user_id}/{chat_id}/{digest.hexdigest()}.bin"  # .bin: served as bytes, never as a page
        Path(tmp.name).replace(self.root / rel)
        return Attachment(path=rel, media_type=media_type_of(name), name=name, size=size)

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

    def collect(self, user_id: int, chat_id: int, keep: set[str]) -> int:
        """Delete this chat's files that no remaining turn refers to; returns how many went."""
        folder = self.root / str(user_id) / str(chat_id)
        if not folder.is_dir():
            return 0
        removed = 0
        for path in folder.iterdir():
            if f"{user_id}/{chat_id}/{path.name}" not in keep:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    def drop_chat(self, user_id: int, chat_id: int) -> None:
        shutil.rmtree(self.root / str(user_id) / str(chat_id), ignore_errors=True)
