"""Scoped CRUD: every read or write of a chat goes through the user it belongs to.

Ownership is checked here and nowhere else: `store.chats.for_user(uid).get(chat_id)` is None for a
chat of another user, and every turn operation starts from such a checked chat.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, update

from varro.db.crud.chat import ChatCrud, UserChats
from varro.db.crud.placement import Placements
from varro.db.crud.turn import ChatTurns
from varro.db.crud.user import UserCrud
from varro.db.engine import Sessions
from varro.db.models import RUNNING, Turn


@dataclass(frozen=True)
class Store:
    """The CRUD entry points over one session factory, made once in the app's lifespan."""

    sessions: Sessions

    @property
    def users(self) -> UserCrud:
        return UserCrud(self.sessions)

    @property
    def chats(self) -> ChatCrud:
        return ChatCrud(self.sessions)

    @property
    def placements(self) -> Placements:
        return Placements(self.sessions)

    async def stop_interrupted(self) -> int:
        """At start-up: turns a crash left `running` are `stopped` (their user's words kept); how many."""
        async with self.sessions.write() as s:
            result = await s.exec(update(Turn).where(col(Turn.status) == RUNNING).values(status="stopped"))
            await s.commit()
            return result.rowcount or 0


__all__ = ["ChatCrud", "ChatTurns", "Store", "UserChats", "UserCrud"]
