"""Every URL of the chat under one prefix, so a host can mount it anywhere (`mount_chat(prefix=...)`)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import quote, urlencode

DEFAULT_PREFIX = "/chat"
_PREFIX = re.compile(r"(/(?!\.\.?(?:/|$))[A-Za-z0-9._~-]+)+")  # no "." or ".." segments


@dataclass(frozen=True)
class ChatUrls:
    """The paths the routes are mounted at and the links the pages carry, built from one `prefix`."""

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if not _PREFIX.fullmatch(self.prefix):
            raise ValueError(f"a chat prefix is one or more /segments without a trailing slash, not {self.prefix!r}")

    @property
    def static(self) -> str:
        return f"{self.prefix}/static"

    @property
    def socket(self) -> str:
        return f"{self.prefix}/ws"

    def index(self) -> str:
        return self.prefix

    def new(self) -> str:
        return f"{self.prefix}/new"

    def history(self, current: int | None = None, everything: bool = False) -> str:
        query = {**({"current": current} if current is not None else {}), **({"everything": 1} if everything else {})}
        return f"{self.prefix}/history" + (f"?{urlencode(query)}" if query else "")

    def search(self, current: int | None = None) -> str:
        return f"{self.prefix}/search" + (f"?{urlencode({'current': current})}" if current is not None else "")

    def answer(self, chat_id: int) -> str:
        return f"{self.prefix}/{chat_id}/answer"

    def page(self, chat_id: int, at: int | None = None, turn: int | None = None) -> str:
        """The chat's page; `at`: shown from that turn on (a search result's), not only the latest turns; `turn`: a
        turn's id, whose branch the page shows (a search result on a version the chat did not show)."""
        query = {k: v for k, v in (("at", at), ("turn", turn)) if v is not None}
        return f"{self.prefix}/{chat_id}" + (f"?{urlencode(query)}" if query else "")

    def earlier(self, chat_id: int, before: int) -> str:
        """The batch of stored turns just before turn `before` (app/turn_window.py)."""
        return f"{self.prefix}/{chat_id}/earlier?{urlencode({'before': before})}"

    def rename(self, chat_id: int) -> str:
        return f"{self.prefix}/{chat_id}/rename"

    def sidebar(self, current: int | None = None, offset: int = 0, archived: bool = False, group: str = "") -> str:
        """The sidebar's list (a page of it from `offset`; `group`: the heading the page before ended under)."""
        query = {k: v for k, v in (("current", current), ("offset", offset or None), ("archived", int(archived) or None),
                                   ("g", group or None)) if v is not None}
        return f"{self.prefix}/sidebar" + (f"?{urlencode(query)}" if query else "")

    def mark(self, chat_id: int, what: str, on: bool, current: int | None = None) -> str:
        """Pin or unpin (`what="pin"`), archive or restore (`"archive"`) a chat; the sidebar comes back."""
        query = {"on": int(on), **({"current": current} if current is not None else {})}
        return f"{self.prefix}/{chat_id}/{what}?{urlencode(query)}"

    def sidebar_rename(self, chat_id: int, current: int | None = None) -> str:
        return f"{self.prefix}/{chat_id}/sidebar-rename" + (f"?{urlencode({'current': current})}" if current else "")

    def shares(self, chat_id: int) -> str:
        """The chat's shared links: GET lists them, POST makes one."""
        return f"{self.prefix}/{chat_id}/shares"

    def revoke_share(self, share_id: int) -> str:
        return f"{self.prefix}/shares/{share_id}/revoke"

    def shared(self, token: str) -> str:
        """A shared link: the read-only page anyone with the token may open."""
        return f"{self.prefix}/shared/{token}"

    def shared_file(self, token: str, path: str) -> str:
        return f"{self.prefix}/shared/{token}/files/{path}"

    def continue_shared(self, token: str) -> str:
        return f"{self.prefix}/shared/{token}/continue"

    def delete(self, chat_id: int) -> str:
        return f"{self.prefix}/{chat_id}/delete"

    def export(self, chat_id: int, fmt: str) -> str:
        return f"{self.prefix}/{chat_id}/export.{fmt}"

    def files(self, chat_id: int) -> str:
        """The chat's working directory: GET lists it, POST `?name=` adds a file (the body)."""
        return f"{self.prefix}/{chat_id}/files"

    def file(self, chat_id: int, name: str) -> str:
        return f"{self.prefix}/{chat_id}/files/{quote(os.fsencode(name), safe='')}"  # any bytes a name holds

    def output(self, chat_id: int, name: str) -> str:
        """The whole output of a cell that printed more than its card shows (`name`: its file in `.outputs/`)."""
        return f"{self.prefix}/{chat_id}/output/{quote(name, safe='')}"

    def preview_file(self, chat_id: int, name: str) -> str:
        return f"{self.prefix}/{chat_id}/preview?{urlencode({'name': name})}"

    def remove_file(self, chat_id: int, name: str) -> str:
        return f"{self.prefix}/{chat_id}/files/remove?{urlencode({'name': name})}"

    def upload(self, path: str) -> str:
        return f"{self.prefix}/uploads/{path}"

    def ws(self, chat_id: int) -> str:
        return f"{self.socket}?chat_id={chat_id}"
