"""Runs whose tab has gone: a turn runs to its end whatever the tab does (only Stop stops it).

A session stops being the user's live one when its tab moves to another chat, or closes, or a newer tab
opens another chat. If a turn is running then, the session is handed here instead of being closed: the run
goes on with no socket attached (its events still go to its `InflightLog`), is stored complete, and then the
session is closed (its kernel kept by the keeper). A tab that opens the chat again before that takes the
session back and catches up, as a reload does. `cap` bounds what one user has running at once, live or here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from varro.chat.session import ChatSession

log = logging.getLogger(__name__)

Key = tuple[int, int]  # (user id, chat id)


def too_many(running: int, cap: int) -> str:
    """What a user is told when a new run would be past the cap."""
    answers = "answer is" if running == 1 else "answers are"
    return (f"{running} {answers} still being written in your other chats (the limit is {cap} at once), so this "
            "one was not sent. Wait for one to finish, or open its chat and stop it; your text is kept.")


class Runs:
    def __init__(self, cap: int = 2, on_closed: Callable[[int], None] | None = None) -> None:
        self.cap = cap
        self.on_closed = on_closed  # told the user whose run ended and was closed here
        self._sessions: dict[Key, ChatSession] = {}
        self._watchers: dict[Key, asyncio.Task[None]] = {}  # until the session is closed, not only until its run ends

    def __len__(self) -> int:
        return len(self._sessions)

    def chats(self, user_id: int) -> set[int]:
        """The user's chats with a run going on here (without a tab)."""
        return {chat for (user, chat) in self._sessions if user == user_id}

    def adopt(self, session: ChatSession) -> None:
        """Own `session`, whose run is going on, until the run ends; then close it."""
        key = (session.user_id, session.chat_id)
        self._sessions[key] = session
        self._watchers[key] = asyncio.create_task(self._close_when_done(key, session))

    def get(self, user_id: int, chat_id: int) -> ChatSession | None:
        return self._sessions.get((user_id, chat_id))

    def take(self, user_id: int, chat_id: int) -> ChatSession | None:
        """The chat's session if its run is still going on here: a tab takes it back (it is live again)."""
        session = self._sessions.pop((user_id, chat_id), None)
        if session is not None:
            self._watchers.pop((user_id, chat_id)).cancel()  # it waits on the run, never the run itself
        return session

    async def settled(self, user_id: int, chat_id: int) -> None:
        """Wait for the chat's finished run to be closed, so its kernel is kept before a new session looks for it."""
        if (task := self._watchers.get((user_id, chat_id))) is not None:
            await asyncio.wait({task})

    async def _close_when_done(self, key: Key, session: ChatSession) -> None:
        await session.finished()
        if self._sessions.get(key) is not session:
            return
        del self._sessions[key]
        try:
            await session.close()
        except Exception:
            log.exception("closing the finished run of chat %s failed", key[1])
        finally:
            if self._watchers.get(key) is asyncio.current_task():
                del self._watchers[key]
            if self.on_closed is not None:
                self.on_closed(key[0])

    async def end(self, user_id: int, chat_id: int) -> None:
        """Stop the chat's run now and shut its kernel down (the chat is being deleted)."""
        if (session := self.take(user_id, chat_id)) is not None:
            await session.close(keep_kernel=False)

    async def close_all(self) -> None:
        """Server shutdown: every run is stopped and stored as `stopped`."""
        sessions = list(self._sessions.values())
        for task in self._watchers.values():
            task.cancel()
        self._sessions, self._watchers = {}, {}
        await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
