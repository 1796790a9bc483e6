"""The live sessions of this process: at most one per user (one tab drives it), the newest tab wins.

A session that stops being live while a turn runs (its tab closed, or moved to another chat, or a newer tab
opened another chat) is handed to `Runs`: the turn runs to its end and is stored complete; only Stop stops it.
A tab that opens that chat again takes the session back and catches up on the turn. See docs/design.md, 8.
Across processes the `coordinator` (varro/scale) decides who holds a user: each new session claims the
user there, and a session another process claimed later is ended here (`evict`), its running turn going on
without a tab, followed and stopped from the other process (varro/chat/remote.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from varro.chat.events import Event
from varro.chat.runs import Runs, too_many
from varro.chat.session import ChatSession
from varro.scale.coordinator import Coordinator, SingleProcess

OpenSession = Callable[[int, int], Awaitable[ChatSession]]


class Tab(Protocol):
    """A browser tab's connection, as the registry sees it."""

    async def deliver(self, event: Event) -> None: ...

    async def catch_up(self, events: list[Event], running: bool) -> None: ...

    async def replaced(self, same_chat: bool) -> None: ...


@dataclass
class Live:
    user_id: int
    chat_id: int
    session: ChatSession
    tab: Tab
    epoch: int = 0  # the coordinator's claim this session holds


class LiveSessions:
    def __init__(self, open_session: OpenSession, max_runs: int = 2, coordinator: Coordinator | None = None) -> None:
        self._open = open_session
        self.coordinator = coordinator or SingleProcess()
        self.runs = Runs(max_runs, on_closed=self._run_closed)
        self._by_user: dict[int, Live] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._releasing: set[asyncio.Task[None]] = set()  # referenced until done, or they may be collected

    def __len__(self) -> int:
        return len(self._by_user)

    def get(self, user_id: int) -> Live | None:
        return self._by_user.get(user_id)

    def _lock(self, user_id: int) -> asyncio.Lock:
        return self._locks.setdefault(user_id, asyncio.Lock())

    def running(self, user_id: int) -> set[int]:
        """The user's chats with a turn running: the live one, and those whose tab has gone."""
        live = self._by_user.get(user_id)
        return self.runs.chats(user_id) | ({live.chat_id} if live is not None and live.session.busy else set())

    async def refusal(self, user_id: int) -> str | None:
        """Why the user may not start another run now (past VARRO_MAX_RUNS_PER_USER, counting every process's), or
        None."""
        running = len(self.running(user_id) | await self.coordinator.runs(user_id))
        return too_many(running, self.runs.cap) if running >= self.runs.cap else None

    async def connect(self, user_id: int, chat_id: int, tab: Tab) -> ChatSession:
        """Give `tab` the user's session for `chat_id`, taking it from any other tab.

        Nothing is delivered to the tab until it says what its page shows (`attach`).
        """
        async with self._lock(user_id):
            live = self._by_user.get(user_id)
            if live is not None:
                await self._release(live, same_chat=live.chat_id == chat_id)
                if live.chat_id == chat_id:
                    live.tab = tab
                    return live.session
                del self._by_user[user_id]
            session = None
            try:
                epoch = await self.coordinator.claim(user_id)  # before opening: the session's writes carry it
                session = self.runs.take(user_id, chat_id)  # its turn still runs: this tab picks it up
                if session is None:
                    await self.runs.settled(user_id, chat_id)  # a run that just ended keeps its kernel first
                    # The new session first: it takes back its chat's kept kernel before the old session's kernel is
                    # kept, so the per-user cap on kernels (live and kept together) never drops the one coming back.
                    session = await self._open(user_id, chat_id)
            finally:
                if live is not None:
                    await self._leave(live.session)
            self._by_user[user_id] = Live(user_id, chat_id, session, tab, epoch)
            return session

    async def attach(self, user_id: int, tab: Tab, known: int) -> None:
        """Start delivering to `tab`, whose page shows the turns below `known`: first the turn it misses."""
        async with self._lock(user_id):
            live = self._by_user.get(user_id)
            if live is None or live.tab is not tab:
                return
            missed = live.session.catch_up(known)
            live.session.sink = tab.deliver
            # First on the wire (nothing was awaited since the sink changed), with whether a run is going on: a
            # page that reconnects after a server restart must unlock even though it was shown "Thinking…".
            await tab.catch_up(missed, live.session.busy)

    async def _release(self, live: Live, same_chat: bool) -> None:
        """Detach the current tab, telling it why."""
        live.session.sink = None  # from here on nothing reaches the old tab
        await live.tab.replaced(same_chat)

    async def _leave(self, session: ChatSession) -> bool:
        """`session` is no longer live: its run, if any, goes on without a tab (True); otherwise it ends now. A session
        following another process's run ends too: the run goes on there, and whoever opens the chat next follows it."""
        if session.busy and session.remote is None:
            self.runs.adopt(session)
            return True
        await session.close()
        return False

    async def disconnect(self, user_id: int, tab: Tab) -> None:
        """The tab went away: the session ends, or its running turn goes on to its end without a tab."""
        async with self._lock(user_id):
            live = self._by_user.get(user_id)
            if live is None or live.tab is not tab:
                return  # a replaced tab holds nothing
            live.session.sink = None
            del self._by_user[user_id]
            running_on = await self._leave(live.session)
        if not running_on:  # a run going on keeps the user here: another process's claim waits for it (evict)
            await self.coordinator.release(user_id, live.epoch)

    def _run_closed(self, user_id: int) -> None:
        """A run without a tab ended here. In a task of its own: a `connect` holding the user's lock may be waiting
        for that run's close (`Runs.settled`)."""
        task = asyncio.create_task(self._release_if_idle(user_id))
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    async def _release_if_idle(self, user_id: int) -> None:
        """With no live session and no run of the user's left here, the lease a run kept goes: no other process's
        claim waits for this one, and it is no longer renewed for nobody."""
        async with self._lock(user_id):
            if user_id in self._by_user or self.runs.chats(user_id):
                return
            if (epoch := self.coordinator.fence(user_id)) is not None:
                await self.coordinator.release(user_id, epoch)

    async def evict(self, user_id: int, epoch: int) -> None:
        """Another process claimed the user under `epoch`: end an older session here and tell its tab.

        A turn it runs goes on without a tab, as when a tab closes: the other process follows it from its stream
        and claims the chat once it is stored (docs/design.md, 12). Its first events are in Redis before the claim
        goes on, so that process sees it running."""
        async with self._lock(user_id):
            live = self._by_user.get(user_id)
            if live is None or live.epoch >= epoch:
                return
            await self._release(live, same_chat=True)
            del self._by_user[user_id]
            if await self._leave(live.session) and (publish := live.session.publish) is not None:
                await publish.flushed()

    async def stop_run(self, user_id: int, chat_id: int) -> None:
        """Stop sent to another process for a turn running here (a tab there follows it)."""
        live = self._by_user.get(user_id)
        session = live.session if live is not None and live.chat_id == chat_id else self.runs.get(user_id, chat_id)
        if session is not None and session.remote is None and session.busy:
            await session.stop()

    async def end(self, user_id: int, chat_id: int) -> None:
        """End the user's session on `chat_id` now, running or not (the chat is being deleted)."""
        async with self._lock(user_id):
            live = self._by_user.get(user_id)
            if live is None or live.chat_id != chat_id:
                await self.runs.end(user_id, chat_id)
                return
            await self._release(live, same_chat=True)
            del self._by_user[user_id]
        await live.session.stop()  # a run it follows on another process stops there too (closing would leave it)
        await live.session.close(keep_kernel=False)
        await self.coordinator.release(user_id, live.epoch)

    async def close_all(self) -> None:
        lives, self._by_user = list(self._by_user.values()), {}
        await asyncio.gather(self.runs.close_all(), *(live.session.close() for live in lives), return_exceptions=True)
        await asyncio.gather(*(self.coordinator.release(live.user_id, live.epoch) for live in lives),
                             return_exceptions=True)
