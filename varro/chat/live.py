"""The live sessions of this process: at most one per user, the newest tab wins.

A tab that drops while a turn is running leaves the run going for a grace period; a tab of the same
user that connects to the same chat within it takes the session over and catches up on the turn.
Across processes the `coordinator` (varro/scale) decides who holds a user: each new session claims the
user there, and a session another process claimed later is ended here (`evict`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from varro.chat.events import Event
from varro.chat.session import ChatSession
from varro.scale.coordinator import Coordinator, SingleProcess
from varro.shell.keeper import KernelKeeper

OpenSession = Callable[[int, int], Awaitable[ChatSession]]


class Tab(Protocol):
    """A browser tab's connection, as the registry sees it."""

    async def deliver(self, event: Event) -> None: ...

    async def catch_up(self, events: list[Event]) -> None: ...

    async def replaced(self) -> None: ...


@dataclass
class Live:
    user_id: int
    chat_id: int
    session: ChatSession
    tab: Tab | None  # None: detached, waiting out the grace period
    expiry: asyncio.Task[None] | None = None
    epoch: int = 0  # the coordinator's claim this session holds


class LiveSessions:
    def __init__(self, open_session: OpenSession, grace_s: float = 30.0, keeper: KernelKeeper | None = None,
                 coordinator: Coordinator | None = None) -> None:
        self._open = open_session
        self.coordinator = coordinator or SingleProcess()
        self.grace_s = grace_s
        self.keeper = keeper  # where ended sessions' kernels wait (closed by the app after close_all)
        self._by_user: dict[int, Live] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    def __len__(self) -> int:
        return len(self._by_user)

    def get(self, user_id: int) -> Live | None:
        return self._by_user.get(user_id)

    def _lock(self, user_id: int) -> asyncio.Lock:
        return self._locks.setdefault(user_id, asyncio.Lock())

    async def connect(self, user_id: int, chat_id: int, tab: Tab) -> ChatSession:
        """Give `tab` the user's session for `chat_id`, taking it from any other tab.

        Nothing is delivered to the tab until it says what its page shows (`attach`).
        """
        async with self._lock(user_id):
            live = self._by_user.get(user_id)
            if live is not None:
                await self._release(live)
                if live.chat_id == chat_id:
                    live.tab = tab
                    return live.session
                del self._by_user[user_id]
            try:
                epoch = await self.coordinator.claim(user_id)  # before opening: the session's writes carry it
                # The new session first: it takes back its chat's kept kernel before the old session's kernel is
                # kept, so the per-user cap on kernels (live and kept together) never drops the one coming back.
                session = await self._open(user_id, chat_id)
            finally:
                if live is not None and live.chat_id != chat_id:
                    await live.session.close()
            self._by_user[user_id] = Live(user_id, chat_id, session, tab, epoch=epoch)
            return session

    async def attach(self, user_id: int, tab: Tab, known: int) -> None:
        """Start delivering to `tab`, whose page shows the turns below `known`: first the turn it misses."""
        async with self._lock(user_id):
            live = self._by_user.get(user_id)
            if live is None or live.tab is not tab:
                return
            missed = live.session.catch_up(known)
            live.session.sink = tab.deliver
            await tab.catch_up(missed)  # first on the wire: nothing was awaited since the sink changed

    async def _release(self, live: Live) -> None:
        """Detach the current tab (telling it why) and stop any grace countdown."""
        if live.expiry is not None:
            live.expiry.cancel()
            live.expiry = None
        old, live.tab = live.tab, None
        live.session.sink = None  # from here on nothing reaches the old tab
        if old is not None:
            await old.replaced()

    async def disconnect(self, user_id: int, tab: Tab) -> None:
        """The tab went away: end the session, or give a running turn the grace period to be picked up."""
        async with self._lock(user_id):
            live = self._by_user.get(user_id)
            if live is None or live.tab is not tab:
                return  # a replaced tab holds nothing
            live.tab, live.session.sink = None, None
            if live.session.busy and self.grace_s > 0:
                live.expiry = asyncio.create_task(self._expire(live))
                return
            del self._by_user[user_id]
        await self._close(live)

    async def _close(self, live: Live, keep_kernel: bool = True) -> None:
        await live.session.close(keep_kernel=keep_kernel)
        await self.coordinator.release(live.user_id, live.epoch)

    async def evict(self, user_id: int, epoch: int) -> None:
        """Another process claimed the user under `epoch`: end an older session here and tell its tab."""
        async with self._lock(user_id):
            live = self._by_user.get(user_id)
            if live is None or live.epoch >= epoch:
                return
            await self._release(live)
            del self._by_user[user_id]
        await live.session.close()

    async def _expire(self, live: Live) -> None:
        await asyncio.sleep(self.grace_s)
        async with self._lock(live.user_id):
            if self._by_user.get(live.user_id) is not live or live.tab is not None:
                return
            del self._by_user[live.user_id]
        await self._close(live)  # stops the run; what it produced is stored as `stopped`

    async def end(self, user_id: int, chat_id: int) -> None:
        """End the user's session on `chat_id` now (the chat is being deleted)."""
        async with self._lock(user_id):
            live = self._by_user.get(user_id)
            if live is None or live.chat_id != chat_id:
                return
            await self._release(live)
            del self._by_user[user_id]
        await self._close(live, keep_kernel=False)

    async def close_all(self) -> None:
        lives, self._by_user = list(self._by_user.values()), {}
        for live in lives:
            if live.expiry is not None:
                live.expiry.cancel()
        await asyncio.gather(*(self._close(live) for live in lives), return_exceptions=True)
