"""The files API beside the kernels API: everything the web tier needs of a chat's folder, asked, never touched.

All routes take the chat as `/varro/chats/{space}/{user}/{chat}/...` (see `ChatKey`) and need the host's token,
like the kernels API.
Names travel percent-encoded as bytes, so a name that is not UTF-8 round-trips (`surrogateescape`).

    GET    /varro/health                         {"kernels": n, "sandbox": "on" | "off" | "refused: why"}
    GET    /varro/environment                    the kernels' packages, for exported notebooks
    GET    /varro/chats/S/U/C/kernel               {"id": ...} of the chat's running kernel, else 404
    DELETE /varro/chats/S/U/C                      the chat is gone: its kernel stops, its folder is deleted
    DELETE /varro/chats/S/U/C/cell                 a cell that did not go idle ended: {"changed": [names],
                                                   "quota": null | {...}, "ended": ...} (it began on the channels)
    GET    /varro/chats/S/U/C/files                [{"name", "raw", "size", "media_type"}] at the top of the folder
    PUT    /varro/chats/S/U/C/files/NAME?max=N     the body becomes a new file (renamed if taken); its description
    GET    /varro/chats/S/U/C/files/NAME           the file's bytes (plain files only, never through a link)
    GET    /varro/chats/S/U/C/outputs/NAME         a long cell's whole output (`.outputs/cell-*.txt`)
    DELETE /varro/chats/S/U/C/files/NAME           the file goes
    POST   /varro/chats/S/U/C/preview              {"files": [...]} -> {"text": what the model is told of them}
    GET    /varro/chats/S/U/C/snapshots            {"turns": [turn id, ...]}
    POST   /varro/chats/S/U/C/snapshots/prune      all but the latest few go
    POST   /varro/chats/S/U/C/snapshots/copy       {"from": [user, chat], "turns": [[from turn, as turn], ...]}:
                                                   another chat's snapshots (same space) become this chat's
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web

from varro import files as chat_files
from varro.kernels import folder as chat_folder
from varro.kernels.chats import SPACE, ChatKey
from varro.kernels.manager import ChatKernelManager
from varro.kernels.sandbox.plan import NoSandbox, Refused
from varro.kernels.snapshots import Snapshots, copy_snapshot
from varro.packages import environment

CHAT = rf"/varro/chats/({SPACE})/(\d{{1,12}})/(\d{{1,12}})"
CHUNK = 256 * 1024


class VarroHandler(APIHandler):
    @property
    def chats(self) -> ChatKernelManager:
        return self.settings["kernel_manager"]  # type: ignore[no-any-return]

    def decode_argument(self, value: bytes, name: str | None = None) -> str:
        return value.decode("utf-8", "surrogateescape")

    def key(self, space: str, user: str, chat: str) -> ChatKey:
        return ChatKey(space, int(user), int(chat))

    async def chat(self, space: str, user: str, chat: str) -> Path:
        """The chat's folder, brought up to date from the store if this host has not served it yet."""
        key = self.key(space, user, chat)
        await self.chats.ready(key)
        return key.folder(self.chats.root)

    def answer(self, body: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def refuse(self, message: str, status: int) -> None:
        self.answer({"message": message}, status)


class Health(VarroHandler):
    @web.authenticated
    def get(self) -> None:
        if not self.chats.set_up:  # the server listens while the sandbox is probed: not ready until that is done
            raise web.HTTPError(503, "the kernel host is starting")
        isolation = self.chats.isolation
        sandbox = f"refused: {isolation.reason}" if isinstance(isolation, Refused) else (
            "off" if isinstance(isolation, NoSandbox) else "on")
        self.answer({"kernels": len(self.chats.list_kernels()), "sandbox": sandbox})


class Environment(VarroHandler):
    @web.authenticated
    async def get(self) -> None:
        """The kernels' Python environment: {"versions": {distribution: version}, "modules": {module: distribution}},
        so an exported notebook names the packages its code imports."""
        python = self.chats.kernel_python
        versions, modules = await asyncio.to_thread(environment, python) if python is not None else ({}, {})
        self.answer({"versions": versions, "modules": modules})


class ChatKernel(VarroHandler):
    @web.authenticated
    def get(self, space: str, user: str, chat: str) -> None:
        kernel_id = self.chats.kernel_of(self.key(space, user, chat))
        if kernel_id is None:
            raise web.HTTPError(404, "no kernel runs for this chat")
        self.answer({"id": kernel_id})


class Chat(VarroHandler):
    @web.authenticated
    async def delete(self, space: str, user: str, chat: str) -> None:
        await self.chats.forget(self.key(space, user, chat))
        self.answer({})


class Cell(VarroHandler):
    # A cell begins on its channels (varro/kernels/connection.py); one that went idle ends there too. This ends one
    # that did not (its kernel died, or it was stuck past its interrupt).
    @web.authenticated
    async def delete(self, space: str, user: str, chat: str) -> None:
        self.answer(await self.chats.end_cell(self.key(space, user, chat)))


class Files(VarroHandler):
    @web.authenticated
    async def get(self, space: str, user: str, chat: str) -> None:
        folder = await self.chat(space, user, chat)
        found = await asyncio.to_thread(_describe_all, folder)
        # `name` as a page shows it; `raw` as it is on disk (any bytes: JSON carries them as surrogates).
        self.answer([{**f.to_dict(), "raw": raw} for raw, f in found])


def _describe_all(folder: Path) -> list[tuple[str, chat_files.ChatFile]]:
    found = ((n, chat_folder.describe(folder, n)) for n in sorted(chat_folder.listing(folder)))
    return [(n, f) for n, f in found if f is not None]


@web.stream_request_body
class File(VarroHandler):
    _tmp: Any = None
    _size = 0
    _refused: chat_files.UploadRefused | None = None

    async def prepare(self) -> None:  # type: ignore[override]  # APIHandler's takes no arguments
        await super().prepare()
        if self.request.method != "PUT":
            return
        if self.current_user is None:  # refused before a byte of the body is staged, not after it was read
            raise web.HTTPError(403)
        space, user, chat, name = self.path_args
        try:
            self._name = chat_files.checked_name(name)
            self._max = int(self.get_query_argument("max", str(2**40)))
        except (chat_files.UploadRefused, ValueError) as exc:
            self._refused = exc if isinstance(exc, chat_files.UploadRefused) else chat_files.UploadRefused(str(exc))
            return
        connection: Any = self.request.connection
        connection.set_max_body_size(self._max + 1)
        self._folder = await self.chat(space, user, chat)
        self._tmp = await asyncio.to_thread(_staged, self.chats.root)

    def data_received(self, chunk: bytes) -> None:
        if self._tmp is None or self._refused is not None:
            return
        self._size += len(chunk)
        if self._size > self._max:
            self._refused = chat_files.UploadRefused(
                f"{self._name} is too large: the limit is {chat_files.human_size(self._max)} a file.", 413)
            return
        self._tmp.write(chunk)

    @web.authenticated
    async def put(self, space: str, user: str, chat: str, name: str) -> None:
        tmp, self._tmp = self._tmp, None
        try:
            if self._refused is None and self._size == 0:
                self._refused = chat_files.UploadRefused(f"{name} is empty, so it was not stored.")
            if self._refused is not None:
                return self.refuse(str(self._refused), self._refused.status)
            tmp.close()
            final = await asyncio.to_thread(chat_folder.place, Path(tmp.name), self._folder, self._name)
            await self.chats.save(self.key(space, user, chat))
            self.answer(chat_files.ChatFile(final, self._size, chat_files.media_type_of(final)).to_dict())
        finally:
            if tmp is not None:
                tmp.close()
                await asyncio.to_thread(Path(tmp.name).unlink, True)

    def on_finish(self) -> None:
        if self._tmp is not None:  # the request failed before `put`
            self._tmp.close()
            Path(self._tmp.name).unlink(missing_ok=True)

    @web.authenticated
    async def get(self, space: str, user: str, chat: str, name: str) -> None:
        await self.send_file(chat_folder.open_plain, space, user, chat, name)

    async def send_file(self, opener: Any, space: str, user: str, chat: str, name: str) -> None:
        opened = await asyncio.to_thread(opener, await self.chat(space, user, chat), name)
        if opened is None:
            raise web.HTTPError(404, "no such file")
        fd, size = opened
        self.set_header("Content-Type", "application/octet-stream")
        self.set_header("Content-Length", str(size))
        with os.fdopen(fd, "rb") as f:
            while chunk := await asyncio.to_thread(f.read, CHUNK):
                self.write(chunk)
                await self.flush()
        self.finish()

    @web.authenticated
    async def delete(self, space: str, user: str, chat: str, name: str) -> None:
        removed = await asyncio.to_thread(chat_folder.remove, await self.chat(space, user, chat), name)
        if not removed:
            raise web.HTTPError(404, "no such file")
        await self.chats.save(self.key(space, user, chat))
        self.answer({})


class Output(File):
    @web.authenticated
    async def get(self, space: str, user: str, chat: str, name: str) -> None:
        """The whole output of a long cell, which the kernel saved in the chat's `.outputs/`."""
        await self.send_file(chat_folder.open_output, space, user, chat, name)


def _staged(root: Path) -> Any:
    """A new file in the host's staging folder (beside the chats, outside every kernel's view)."""
    staging = root / "incoming"
    staging.mkdir(mode=0o700, exist_ok=True)
    return tempfile.NamedTemporaryFile(dir=staging, delete=False)  # noqa: SIM115  (closed by the handler)


class Preview(VarroHandler):
    @web.authenticated
    async def post(self, space: str, user: str, chat: str) -> None:
        body = self.get_json_body() or {}
        files = [chat_files.ChatFile(str(f["name"]), int(f["size"]), str(f["media_type"])) for f in body.get("files", [])]
        text = await asyncio.to_thread(chat_folder.for_model, await self.chat(space, user, chat), files)
        self.answer({"text": text})


class SnapshotList(VarroHandler):
    @web.authenticated
    async def get(self, space: str, user: str, chat: str) -> None:
        turns = await asyncio.to_thread(Snapshots(await self.chat(space, user, chat)).turns)
        self.answer({"turns": turns})


class SnapshotPrune(VarroHandler):
    @web.authenticated
    async def post(self, space: str, user: str, chat: str) -> None:
        await asyncio.to_thread(Snapshots(await self.chat(space, user, chat)).prune)
        await self.chats.save(self.key(space, user, chat))
        self.answer({})


class SnapshotCopy(VarroHandler):
    @web.authenticated
    async def post(self, space: str, user: str, chat: str) -> None:
        try:
            body = json.loads(self.request.body or b"{}")
            from_user, from_chat = (int(x) for x in body["from"])
            pairs = [(int(a), int(b)) for a, b in body["turns"]]
        except (ValueError, TypeError, KeyError):
            raise web.HTTPError(400, 'expected {"from": [user, chat], "turns": [[from, as], ...]}') from None
        source = await self.chat(space, str(from_user), str(from_chat))
        target = await self.chat(space, user, chat)
        copied = [a for a, b in pairs if await asyncio.to_thread(copy_snapshot, source, a, target, b)]
        await self.chats.save(self.key(space, user, chat))
        self.answer({"copied": copied})


def handlers() -> list[tuple[str, type[VarroHandler]]]:
    return [
        (r"/varro/health", Health),
        (r"/varro/environment", Environment),
        (CHAT + r"/kernel", ChatKernel),
        (CHAT, Chat),
        (CHAT + r"/cell", Cell),
        (CHAT + r"/files", Files),
        (CHAT + r"/files/(.+)", File),
        (CHAT + r"/outputs/(.+)", Output),
        (CHAT + r"/preview", Preview),
        (CHAT + r"/snapshots", SnapshotList),
        (CHAT + r"/snapshots/prune", SnapshotPrune),
        (CHAT + r"/snapshots/copy", SnapshotCopy),
    ]
