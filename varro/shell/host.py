"""The web tier's client of a kernel host: its kernels API (REST) and its files API, by chat.

Every call names the chat as (user id, chat id); the host owns the chat's folder and kernel, the web tier only asks.
A host that can't be reached raises `HostLost`; a host that can't run code says why (`Unavailable`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from varro.files import ChatFile, UploadRefused

TIMEOUT = httpx.Timeout(60.0, connect=5.0)
REPLAYABLE = frozenset({"GET", "HEAD", "PUT", "DELETE"})  # the same request twice does what it does once


class HostLost(ConnectionError):
    """The kernel host did not answer (it stopped, or the network between us did)."""


class Unavailable(RuntimeError):
    """The kernel host can't run code (no sandbox there, say); the message is one sentence for the page."""


def _name(name: str) -> str:
    # Names may hold any byte but '/' and NUL: sent as their bytes, percent-encoded (the host decodes them back).
    return quote(name.encode("utf-8", "surrogateescape"), safe="")


def _chat_file(body: dict[str, Any]) -> ChatFile:
    return ChatFile(str(body["name"]), int(body["size"]), str(body["media_type"]))


@dataclass
class HostClient:
    url: str  # http://host:port, no trailing slash
    token: str
    space: str = "main"  # this web tier's chats, apart from other apps' that share the host (VARRO_KERNEL_SPACE)

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/")
        self._http = httpx.AsyncClient(base_url=self.url, headers={"Authorization": f"token {self.token}"},
                                       timeout=TIMEOUT)
        self._environment: tuple[dict[str, str], dict[str, str]] | None = None

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        # A kept-alive connection the host closed while it was idle fails the next request before the host sees
        # it: a request that can be sent again is, once, on a new connection (a host that is down fails again).
        again = method in REPLAYABLE and not isinstance(kwargs.get("content"), AsyncIterator)
        try:
            try:
                return await self._http.request(method, path, **kwargs)
            except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
                if not again:
                    raise
            return await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise HostLost(f"the kernel host at {self.url} did not answer ({type(exc).__name__})") from None

    async def _json(self, method: str, path: str, ok: tuple[int, ...] = (200, 201), **kwargs: Any) -> Any:
        response = await self._call(method, path, **kwargs)
        if response.status_code not in ok:
            raise HostLost(f"the kernel host answered {response.status_code} to {method} {path}: "
                           f"{_message(response)}")
        return response.json() if response.content else None

    # --- kernels ------------------------------------------------------------------------------------------

    def channels_url(self, kernel_id: str) -> str:
        return f"{self.url.replace('http', 'ws', 1)}/api/kernels/{kernel_id}/channels"

    async def environment(self) -> tuple[dict[str, str], dict[str, str]]:
        """The kernels' packages: ({distribution: version}, {module: distribution}); read once."""
        if self._environment is None:
            body = await self._json("GET", "/varro/environment")
            self._environment = (dict(body["versions"]), dict(body["modules"]))
        return self._environment

    async def health(self) -> dict[str, Any]:
        return await self._json("GET", "/varro/health")  # type: ignore[no-any-return]

    async def start_kernel(self, user_id: int, chat_id: int) -> str:
        """The chat's kernel on this host, started if it has none (one per chat, whoever asks)."""
        response = await self._call("POST", "/api/kernels", json={"name": "varro", "path": f"{self.space}/{user_id}/{chat_id}"})
        if response.status_code == 503:
            raise Unavailable(_message(response))
        if response.status_code not in (200, 201):
            raise HostLost(f"the kernel host could not start a kernel ({response.status_code}: {_message(response)})")
        return str(response.json()["id"])

    async def kernel_of(self, user_id: int, chat_id: int) -> str | None:
        response = await self._call("GET", f"/varro/chats/{self.space}/{user_id}/{chat_id}/kernel")
        return str(response.json()["id"]) if response.status_code == 200 else None

    async def kernel_state(self, kernel_id: str) -> str | None:
        """"idle", "busy", "starting", "restarting", "dead"...; None when the host has no such kernel."""
        response = await self._call("GET", f"/api/kernels/{kernel_id}")
        return str(response.json().get("execution_state")) if response.status_code == 200 else None

    async def interrupt(self, kernel_id: str) -> None:
        await self._call("POST", f"/api/kernels/{kernel_id}/interrupt")

    async def restart(self, kernel_id: str) -> None:
        await self._json("POST", f"/api/kernels/{kernel_id}/restart")

    async def shutdown(self, kernel_id: str) -> None:
        await self._call("DELETE", f"/api/kernels/{kernel_id}")

    async def end_cell(self, user_id: int, chat_id: int) -> dict[str, Any]:
        """{"changed": [names], "quota": None | {"removed": [...], "limit_mb": n}, "ended": None | {...}}"""
        return await self._json("DELETE", f"/varro/chats/{self.space}/{user_id}/{chat_id}/cell")  # type: ignore[no-any-return]

    async def delete_chat(self, user_id: int, chat_id: int) -> None:
        await self._json("DELETE", f"/varro/chats/{self.space}/{user_id}/{chat_id}")

    # --- files --------------------------------------------------------------------------------------------

    async def files(self, user_id: int, chat_id: int) -> list[ChatFile]:
        return [f for _, f in await self.named_files(user_id, chat_id)]

    async def named_files(self, user_id: int, chat_id: int) -> list[tuple[str, ChatFile]]:
        """The chat's files, each with its name on disk (any bytes, as surrogates) and as a page shows it."""
        body = await self._json("GET", f"/varro/chats/{self.space}/{user_id}/{chat_id}/files")
        return [(str(f.get("raw", f["name"])), _chat_file(f)) for f in body]

    async def put_file(self, user_id: int, chat_id: int, name: str, chunks: AsyncIterator[bytes],
                       max_bytes: int) -> ChatFile:
        """Store the body as a new file of the chat (renamed if the name is taken); UploadRefused with the host's
        reason (too large, empty, not a plain name)."""
        response = await self._call("PUT", f"/varro/chats/{self.space}/{user_id}/{chat_id}/files/{_name(name)}",
                                    params={"max": max_bytes}, content=_at_most(chunks, max_bytes + 1))
        if response.status_code in (400, 413):
            raise UploadRefused(_message(response), response.status_code)
        if response.status_code != 200:
            raise HostLost(f"the kernel host could not store {name!r} ({response.status_code})")
        return _chat_file(response.json())

    async def read_file(self, user_id: int, chat_id: int, name: str,
                        kind: str = "files") -> tuple[int, AsyncIterator[bytes]] | None:
        """The file's size and its bytes as they come (`kind` "outputs": a long cell's whole output); None when it is
        not a plain file of the chat."""
        request = self._http.build_request("GET", f"/varro/chats/{self.space}/{user_id}/{chat_id}/{kind}/{_name(name)}")
        try:
            response = await self._http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise HostLost(f"the kernel host at {self.url} did not answer ({type(exc).__name__})") from None
        if response.status_code != 200:
            await response.aclose()
            return None

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in response.aiter_bytes():
                    yield chunk
            finally:
                await response.aclose()

        return int(response.headers.get("content-length", "0")), body()

    async def remove_file(self, user_id: int, chat_id: int, name: str) -> bool:
        response = await self._call("DELETE", f"/varro/chats/{self.space}/{user_id}/{chat_id}/files/{_name(name)}")
        return response.status_code == 200

    async def for_model(self, user_id: int, chat_id: int, files: list[ChatFile]) -> str:
        """What the model is told of files attached to a message: names, sizes, and the first lines of text."""
        body = await self._json("POST", f"/varro/chats/{self.space}/{user_id}/{chat_id}/preview",
                                json={"files": [f.to_dict() for f in files]})
        return str(body["text"])

    # --- snapshots ----------------------------------------------------------------------------------------

    async def snapshot_turns(self, user_id: int, chat_id: int) -> list[int]:
        body = await self._json("GET", f"/varro/chats/{self.space}/{user_id}/{chat_id}/snapshots")
        return [int(k) for k in body["turns"]]

    async def prune_snapshots(self, user_id: int, chat_id: int) -> None:
        await self._json("POST", f"/varro/chats/{self.space}/{user_id}/{chat_id}/snapshots/prune")

    async def copy_snapshots(self, source: tuple[int, int], user_id: int, chat_id: int,
                             turns: list[tuple[int, int]]) -> list[int]:
        """The snapshots of chat `source` (user id, chat id) for `turns` (its turn id, this chat's) become this chat's;
        the source turn ids that had one."""
        body = await self._json("POST", f"/varro/chats/{self.space}/{user_id}/{chat_id}/snapshots/copy",
                                json={"from": list(source), "turns": [list(t) for t in turns]})
        return [int(k) for k in body["copied"]]


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except (ValueError, json.JSONDecodeError):
        return response.text[:200]
    return str(body.get("message") or body.get("reason") or body)[:300] if isinstance(body, dict) else str(body)[:200]


async def _at_most(chunks: AsyncIterator[bytes], limit: int) -> AsyncIterator[bytes]:
    """The body up to `limit` bytes: one past the host's cap is enough for it to refuse the file (413, with why);
    sending on would pass its connection's body limit, and it would close the connection instead of answering."""
    sent = 0
    async for chunk in chunks:
        yield chunk[: limit - sent]
        sent += len(chunk)
        if sent >= limit:
            return
