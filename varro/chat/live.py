"""The live sessions of this process: at most one per user, newest connection wins."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from varro.chat.session import ChatSession, Sink

OpenSession = Callable[[int, int], Awaitable[ChatSession]]
Notify = Callable[[], Awaitable[None]]


@dataclass
class Live:
    """One user's session and the connection that currently owns it."""

    user_id: int
    chat_id: int
    session: ChatSession
    owner: object
    on_replaced: Notify


class LiveSessions:
    def __init__(self, open_session: OpenSession) -> None:
        self._open = open_session
        self._by_user: dict[int, Live] = {}
        self._locks: dict[int, asyncio.Lock] = {}

    def __len__(self) -> int:
        return len(self._by_user)

    def get(self, user_id: int) -> Live | None:
        return self._by_user.get(user_id)

    def _lock(self, user_id: int) -> asyncio.Lock:
        return self._locks.setdefault(user_id, asyncio.Lock())

    async def connect(self, user_id: int, chat_id: int, owner: object, sink: Sink, on_replaced: Notify) -> ChatSession:
        """Give `owner` the user's session for `chat_id`, taking it from any older connection."""
        async with self._lock(user_id):
            old = self._by_user.pop(user_id, None)
            if old is not None:
                old.session.sink = None  # from here on nothing reaches the old tab
                await old.on_replaced()
                await old.session.close()
            session = await self._open(user_id, chat_id)
            session.sink = sink
            self._by_user[user_id] = Live(user_id, chat_id, session, owner, on_replaced)
            return session

    async def disconnect(self, user_id: int, owner: object) -> None:
        """End the user's session if `owner` still holds it (a replaced tab holds nothing)."""
        async with self._lock(user_id):
            live = self._by_user.get(user_id)
            if live is None or live.owner is not owner:
                return
            del self._by_user[user_id]
            live.session.sink = None
        await live.session.close()
        if not self._lock(user_id).locked() and user_id not in self._by_user:
            self._locks.pop(user_id, None)

    async def close_all(self) -> None:
        lives, self._by_user = list(self._by_user.values()), {}
        await asyncio.gather(*(live.session.close() for live in lives), return_exceptions=True)
