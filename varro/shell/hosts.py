"""Several kernel hosts as one: each chat is routed to the host it lives on.

A chat is placed on the least loaded host the first time it needs one, and the placement is kept in the database,
so every web process routes it alike. A host that does not answer is set aside for a while and its chats move to
another host on their next call: the new host brings the chat's folder back from the store the hosts share
(varro/kernels/store.py), and the session restores the namespace from the latest snapshot in it. With one host
this is a thin pass-through.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, TypeVar

from varro.files import ChatFile
from varro.shell.host import HostClient, HostLost

log = logging.getLogger(__name__)

DOWN_S = 30.0  # a host that did not answer is skipped this long before it is tried again
T = TypeVar("T")


class Placements(Protocol):
    async def get(self, chat_id: int) -> str: ...
    async def move(self, chat_id: int, was: str, to: str) -> str: ...


class KernelHosts:
    def __init__(self, clients: list[HostClient], placements: Placements | None = None) -> None:
        assert clients, "at least one kernel host"
        self.clients = {c.url: c for c in clients}
        self.token = clients[0].token
        self.space = clients[0].space
        self._placements = placements if len(clients) > 1 else None
        self._down: dict[str, float] = {}
        self._by_kernel: dict[str, HostClient] = {}

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.clients.values()))

    # --- placement ---------------------------------------------------------------------------------------

    def _up(self, url: str) -> bool:
        return url in self.clients and self._down.get(url, 0.0) <= time.monotonic()

    async def of(self, user_id: int, chat_id: int) -> HostClient:
        """The host the chat lives on; placed (or moved, from a host that is down) on the least loaded one."""
        if self._placements is None:
            return next(iter(self.clients.values()))
        url = await self._placements.get(chat_id)
        if self._up(url):
            return self.clients[url]
        target = await self._least_loaded()
        now = await self._placements.move(chat_id, url, target.url)
        if url and now == target.url:
            log.warning("chat %s moved from kernel host %s (not answering) to %s", chat_id, url, target.url)
        return self.clients.get(now, target)

    async def _least_loaded(self) -> HostClient:
        candidates = [c for url, c in self.clients.items() if self._up(url)] or list(self.clients.values())
        loads = await asyncio.gather(*(self._load(c) for c in candidates))
        ranked = sorted((load, i) for i, load in enumerate(loads) if load is not None)
        if not ranked:
            raise HostLost("no kernel host answers")
        return candidates[ranked[0][1]]

    async def _load(self, client: HostClient) -> int | None:
        try:
            return int((await client.health())["kernels"])
        except (HostLost, KeyError, ValueError):
            self._down[client.url] = time.monotonic() + DOWN_S
            return None

    async def _on(self, user_id: int, chat_id: int, call: Callable[[HostClient], Awaitable[T]]) -> T:
        """`call` on the chat's host; once more on the host it moves to if that one does not answer."""
        client = await self.of(user_id, chat_id)
        try:
            return await call(client)
        except HostLost:
            if self._placements is None:
                raise
            self._down[client.url] = time.monotonic() + DOWN_S
            return await call(await self.of(user_id, chat_id))

    def lost(self, kernel_id: str) -> None:
        """A kernel's connection dropped: its host is set aside, so the chat's next call moves it."""
        client = self._by_kernel.pop(kernel_id, None)
        if client is not None and self._placements is not None:
            self._down[client.url] = time.monotonic() + DOWN_S

    async def environment(self) -> tuple[dict[str, str], dict[str, str]]:
        """The kernels' packages (every host of a pool runs the same environment): from the first that answers."""
        for url, client in self.clients.items():
            if self._up(url):
                try:
                    return await client.environment()
                except HostLost:
                    self._down[url] = time.monotonic() + DOWN_S
        raise HostLost("no kernel host answers")

    # --- kernels ------------------------------------------------------------------------------------------

    def _host_of(self, kernel_id: str) -> HostClient:
        return self._by_kernel.get(kernel_id) or next(iter(self.clients.values()))

    def channels_url(self, kernel_id: str) -> str:
        return self._host_of(kernel_id).channels_url(kernel_id)

    async def start_kernel(self, user_id: int, chat_id: int) -> str:
        async def start(client: HostClient) -> str:
            kernel_id = await client.start_kernel(user_id, chat_id)
            self._by_kernel[kernel_id] = client
            return kernel_id

        return await self._on(user_id, chat_id, start)

    async def kernel_of(self, user_id: int, chat_id: int) -> str | None:
        client = await self.of(user_id, chat_id)
        kernel_id = await client.kernel_of(user_id, chat_id)
        if kernel_id is not None:
            self._by_kernel[kernel_id] = client
        return kernel_id

    async def interrupt(self, kernel_id: str) -> None:
        await self._host_of(kernel_id).interrupt(kernel_id)

    async def restart(self, kernel_id: str) -> None:
        await self._host_of(kernel_id).restart(kernel_id)

    async def shutdown(self, kernel_id: str) -> None:
        await self._host_of(kernel_id).shutdown(kernel_id)
        self._by_kernel.pop(kernel_id, None)

    async def end_cell(self, user_id: int, chat_id: int) -> dict[str, Any]:
        return await (await self.of(user_id, chat_id)).end_cell(user_id, chat_id)

    async def delete_chat(self, user_id: int, chat_id: int) -> None:
        """Everywhere: every host that answers forgets the chat (its kernel, folder, and stored copy)."""
        results = await asyncio.gather(*(c.delete_chat(user_id, chat_id) for c in self.clients.values()),
                                       return_exceptions=True)
        if all(isinstance(r, BaseException) for r in results):
            raise HostLost("no kernel host answered the deletion")

    # --- files and snapshots ------------------------------------------------------------------------------

    async def files(self, user_id: int, chat_id: int) -> list[ChatFile]:
        return await self._on(user_id, chat_id, lambda c: c.files(user_id, chat_id))

    async def put_file(self, user_id: int, chat_id: int, name: str, chunks: AsyncIterator[bytes],
                       max_bytes: int) -> ChatFile:
        client = await self.of(user_id, chat_id)  # a body can be sent once: no retry elsewhere
        return await client.put_file(user_id, chat_id, name, chunks, max_bytes)

    async def named_files(self, user_id: int, chat_id: int) -> list[tuple[str, ChatFile]]:
        return await self._on(user_id, chat_id, lambda c: c.named_files(user_id, chat_id))

    async def read_file(self, user_id: int, chat_id: int, name: str,
                        kind: str = "files") -> tuple[int, AsyncIterator[bytes]] | None:
        return await self._on(user_id, chat_id, lambda c: c.read_file(user_id, chat_id, name, kind))

    async def remove_file(self, user_id: int, chat_id: int, name: str) -> bool:
        return await self._on(user_id, chat_id, lambda c: c.remove_file(user_id, chat_id, name))

    async def for_model(self, user_id: int, chat_id: int, files: list[ChatFile]) -> str:
        return await self._on(user_id, chat_id, lambda c: c.for_model(user_id, chat_id, files))

    async def snapshot_turns(self, user_id: int, chat_id: int) -> list[int]:
        return await self._on(user_id, chat_id, lambda c: c.snapshot_turns(user_id, chat_id))

    async def prune_snapshots(self, user_id: int, chat_id: int) -> None:
        await self._on(user_id, chat_id, lambda c: c.prune_snapshots(user_id, chat_id))

    async def copy_snapshots(self, source: tuple[int, int], user_id: int, chat_id: int,
                             turns: list[tuple[int, int]]) -> list[int]:
        """Copy chat `source`'s snapshots to a new chat, placed on the source's host so that one host does both."""
        client = await self.of(*source)
        if self._placements is not None:
            await self._placements.move(chat_id, await self._placements.get(chat_id), client.url)
        return await client.copy_snapshots(source, user_id, chat_id, turns)
