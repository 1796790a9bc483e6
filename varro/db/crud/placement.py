"""Which kernel host each chat lives on, shared by every web process through the database."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select, update

from varro.db.engine import Sessions
from varro.db.models import Chat


@dataclass(frozen=True)
class Placements:
    sessions: Sessions

    async def get(self, chat_id: int) -> str:
        """The chat's kernel host, "" if it has none yet (or the chat is gone)."""
        async with self.sessions() as s:
            host = (await s.exec(select(Chat.kernel_host).where(col(Chat.id) == chat_id))).first()
        return host or ""

    async def move(self, chat_id: int, was: str, to: str) -> str:
        """Place the chat on `to` if it is still on `was` (another process may have moved it first); where it is
        now, either way."""
        async with self.sessions.write() as s:
            await s.exec(update(Chat).where(col(Chat.id) == chat_id, col(Chat.kernel_host) == was)
                         .values(kernel_host=to))
            await s.commit()
        return await self.get(chat_id)
