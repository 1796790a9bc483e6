"""Which chat a request is about, and where that chat's folder lives on this host."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

SPACE = r"[a-z0-9][a-z0-9-]{0,39}"
_KEY = re.compile(rf"({SPACE})/(\d{{1,12}})/(\d{{1,12}})")


@dataclass(frozen=True)
class ChatKey:
    """A chat as the web tier names it: the web tier's space (several apps may share kernel hosts), then its owner's
    id and its own, both ids of that web tier's database."""

    space: str
    user_id: int
    chat_id: int

    @classmethod
    def parse(cls, text: str) -> ChatKey:
        """`"space/user/chat"`, as a kernel start's `path` and the files API's URLs carry it; ValueError otherwise."""
        match = _KEY.fullmatch(text.strip("/"))
        if match is None:
            raise ValueError(f"not a chat key: {text[:60]!r}")
        return cls(match[1], int(match[2]), int(match[3]))

    def __str__(self) -> str:
        return f"{self.space}/{self.user_id}/{self.chat_id}"

    def folder(self, root: Path) -> Path:
        """The chat's working directory under the host's `root`: the kernel's home, with the chat's files."""
        return root / "chats" / self.space / str(self.user_id) / str(self.chat_id)
