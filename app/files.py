"""HTTP routes for a chat's files: upload into its working directory, remove before sending, list, download.

Uploads go over HTTP, not the websocket: a file may be far larger than a message, and the body is streamed to
disk with the size cap enforced while it is read (varro/files.py). Every route is owner-only: a chat that is not
the user's is 404, like one that never was.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

from fasthtml.common import Response
from starlette.requests import Request
from starlette.responses import StreamingResponse

from app.state import VarroState
from ui.files import ComposerChip, FilesView
from varro import files as chat_files
from varro.db.crud import UserChats
from varro.shell.quota import WorkdirQuota

NOT_YOURS = "This chat was not found, so the file was not stored."


def _state(req: Request) -> VarroState:
    return req.app.state.varro


def _chats(req: Request) -> UserChats:
    return req.scope["chats"]


def _refuse(message: str, status: int) -> Response:
    return Response(message, status_code=status, media_type="text/plain; charset=utf-8")


def download_headers(name: str) -> dict[str, str]:
    """Always a download, never shown in our origin; the name encoded (RFC 6266) so it cannot break the header."""
    ascii_name = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in name) or "file"
    return {"Content-Disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}",
            "Content-Security-Policy": "sandbox; default-src 'none'", "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store"}


async def upload_file(req: Request, chat_id: int, name: str = "") -> Any:
    """The request's body becomes the file `name` in the chat's working directory; answers with its chip."""
    state, chats = _state(req), _chats(req)
    if await chats.get(chat_id) is None:
        return _refuse(NOT_YOURS, 404)
    settings = state.settings
    limit = settings.max_upload_mb * 2**20
    try:
        declared = int(req.headers.get("content-length", "0"))
    except ValueError:
        declared = 0
    workdir = state.workdir(chats.user_id, chat_id)
    try:
        chat_files.checked_name(name)
        if declared > limit:  # said up front: refused before a byte is read
            raise chat_files.UploadRefused(
                f"{name} is too large: the limit is {chat_files.human_size(limit)} a file.", 413)
        used = sum((await asyncio.to_thread(WorkdirQuota(workdir, 0).listing)).values()) if workdir.is_dir() else 0
        room = settings.kernel_workdir_mb * 2**20 - used
        if declared > room:
            raise chat_files.UploadRefused(f"{name} does not fit: this chat's files may use "
                                           f"{settings.kernel_workdir_mb} MB in all.", 413)
        file = await chat_files.receive(workdir, name, req.stream(), min(limit, max(room, 0)))
    except chat_files.UploadRefused as exc:
        return _refuse(str(exc), exc.status)
    return ComposerChip(file, state.urls.remove_file(chat_id, file.name))


async def remove_file(req: Request, chat_id: int, name: str = "") -> Any:
    """A chip removed before sending: its file leaves the working directory."""
    state, chats = _state(req), _chats(req)
    if await chats.get(chat_id) is None:
        return _refuse("This chat was not found.", 404)
    removed = await asyncio.to_thread(chat_files.remove, state.workdir(chats.user_id, chat_id), name)
    return Response(status_code=200) if removed else _refuse("That file is not in this chat.", 404)


def listing(state: VarroState, user_id: int, chat_id: int) -> list[chat_files.ChatFile]:
    workdir = state.workdir(user_id, chat_id)
    if not workdir.is_dir():
        return []
    found = (chat_files.describe(workdir, n) for n in sorted(os.listdir(workdir)) if not n.startswith("."))
    return [f for f in found if f is not None]


async def list_files(req: Request, chat_id: int) -> Any:
    """The Files view: what is in the chat's working directory now."""
    state, chats = _state(req), _chats(req)
    if await chats.get(chat_id) is None:
        return _refuse("This chat was not found.", 404)
    files = await asyncio.to_thread(listing, state, chats.user_id, chat_id)
    return FilesView(files, lambda n: state.urls.file(chat_id, n))


async def download_file(req: Request, chat_id: int, name: str) -> Any:
    """A file of the chat's working directory, as it is now, for its owner only."""
    state, chats = _state(req), _chats(req)
    if await chats.get(chat_id) is None:
        return _refuse("Not found", 404)
    opened = await asyncio.to_thread(chat_files.open_plain, state.workdir(chats.user_id, chat_id), name)
    if opened is None:
        return _refuse("Not found", 404)
    fd, size = opened
    headers = {**download_headers(name), "Content-Length": str(size)}
    return StreamingResponse(read_chunks(fd), media_type="application/octet-stream", headers=headers)


async def read_chunks(fd: int, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    with os.fdopen(fd, "rb") as f:
        while chunk := await asyncio.to_thread(f.read, size):
            yield chunk
