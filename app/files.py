"""HTTP routes for a chat's files: upload into its working directory, remove before sending, list, download.

Uploads go over HTTP, not the websocket: a file may be far larger than a message, and the body is streamed on to the
chat's kernel host, which owns the folder and enforces the size cap as bytes arrive (varro/kernels/api.py); this
side never opens a path in a chat's folder. Every route is owner-only: a chat that is not the user's is 404, like
one that never was.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncGenerator
from typing import Any, cast
from urllib.parse import quote, unquote_to_bytes

from fasthtml.common import Response
from starlette.requests import Request
from starlette.responses import StreamingResponse

from app.state import VarroState
from ui.files import ComposerChip, FilePreview, FilesView
from varro import files as chat_files
from varro.db.crud import UserChats
from varro.names import shown
from varro.sheet_preview import NoPreview, previewable, read_limit, rows_of
from varro.shell.host import HostLost

NOT_YOURS = "This chat was not found, so the file was not stored."
HOST_LOST = "The chat's files could not be reached just now (its shell's host did not answer). Try again in a moment."


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
    host = state.kernels
    try:
        chat_files.checked_name(name)
        if declared > limit:  # said up front: refused before a byte is read
            raise chat_files.UploadRefused(
                f"{name} is too large: the limit is {chat_files.human_size(limit)} a file.", 413)
        used = sum(f.size for f in await host.files(chats.user_id, chat_id))
        room = settings.kernel_workdir_mb * 2**20 - used
        if declared > room:
            raise chat_files.UploadRefused(f"{name} does not fit: this chat's files may use "
                                           f"{settings.kernel_workdir_mb} MB in all.", 413)
        file = await host.put_file(chats.user_id, chat_id, name, req.stream(), min(limit, max(room, 0)))
    except chat_files.UploadRefused as exc:
        return _refuse(str(exc), exc.status)
    except HostLost:
        return _refuse(HOST_LOST, 503)
    preview = state.urls.preview_file(chat_id, file.name) if previewable(file.name) else None
    return ComposerChip(file, state.urls.remove_file(chat_id, file.name), preview)


async def preview_file(req: Request, chat_id: int, name: str = "") -> Any:
    """The first rows of an attached table (CSV, TSV, .xlsx), read from its kernel host and parsed here, in the
    unprivileged web tier (varro/sheet_preview.py)."""
    state, chats = _state(req), _chats(req)
    if await chats.get(chat_id) is None:
        return _refuse("This chat was not found.", 404)
    if not previewable(name):
        return FilePreview(shown(name), error="Only CSV, TSV and .xlsx files have a preview.")
    try:
        opened = await state.kernels.read_file(chats.user_id, chat_id, name)
    except HostLost:
        return _refuse(HOST_LOST, 503)
    if opened is None:
        return _refuse("That file is not in this chat.", 404)
    size, chunks = opened
    limit, data = read_limit(name), bytearray()
    async with contextlib.aclosing(cast(AsyncGenerator[bytes, None], chunks)) as body:
        async for chunk in body:
            data += chunk
            if len(data) >= limit:
                break
    try:
        rows = await asyncio.to_thread(rows_of, name, bytes(data))
    except NoPreview as exc:
        return FilePreview(shown(name), error=str(exc))
    return FilePreview(shown(name), rows)


async def remove_file(req: Request, chat_id: int, name: str = "") -> Any:
    """A chip removed before sending: its file leaves the working directory."""
    state, chats = _state(req), _chats(req)
    if await chats.get(chat_id) is None:
        return _refuse("This chat was not found.", 404)
    try:
        removed = await state.kernels.remove_file(chats.user_id, chat_id, name)
    except HostLost:
        return _refuse(HOST_LOST, 503)
    return Response(status_code=200) if removed else _refuse("That file is not in this chat.", 404)


async def list_files(req: Request, chat_id: int) -> Any:
    """The Files view: what is in the chat's folder now, as its kernel host lists it."""
    state, chats = _state(req), _chats(req)
    if await chats.get(chat_id) is None:
        return _refuse("This chat was not found.", 404)
    try:
        found = await state.kernels.named_files(chats.user_id, chat_id)
    except HostLost:
        return _refuse(HOST_LOST, 503)
    on_disk = {f.name: raw for raw, f in found}  # the link carries the name's own bytes
    return FilesView([f for _, f in found], lambda name: state.urls.file(chat_id, on_disk.get(name, name)))


def raw_name(req: Request, name: str) -> str:
    """The file name as the URL's bytes spell it: the server decodes a path as UTF-8 and replaces what is not, so a
    name that is not UTF-8 (`shown` writes it `\\xff`, links carry its bytes) is read from the raw path."""
    raw = req.scope.get("raw_path")
    if not isinstance(raw, bytes) or b"/" not in raw:
        return name
    return os.fsdecode(unquote_to_bytes(raw.rsplit(b"/", 1)[1].split(b"?", 1)[0]))


async def download_file(req: Request, chat_id: int, name: str) -> Any:
    """A file of the chat's folder, as it is now, for its owner only (read from its kernel host, which opens it
    without following a link)."""
    return await _download(req, chat_id, name, "files", "Not found", "application/octet-stream")


async def download_output(req: Request, chat_id: int, name: str) -> Any:
    """The whole output of a cell that printed more than its card shows, saved by the kernel; for its owner only."""
    return await _download(req, chat_id, name, "outputs",
                           "This output is no longer kept (a chat keeps its last 20 long outputs).",
                           "text/plain; charset=utf-8")


async def _download(req: Request, chat_id: int, name: str, kind: str, missing: str, media_type: str) -> Any:
    state, chats = _state(req), _chats(req)
    name = raw_name(req, name)
    if await chats.get(chat_id) is None:
        return _refuse("Not found", 404)
    try:
        opened = await state.kernels.read_file(chats.user_id, chat_id, name, kind)
    except HostLost:
        return _refuse(HOST_LOST, 503)
    if opened is None:
        return _refuse(missing, 404)
    size, chunks = opened
    headers = {**download_headers(shown(name)), "Content-Length": str(size)}
    return StreamingResponse(chunks, media_type=media_type, headers=headers)
