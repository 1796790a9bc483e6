"""Turns of one chat whose ownership was already checked: append, list, truncate_from."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any

from sqlmodel import col, delete, select

from varro.db.engine import Sessions
from varro.db.models import TURN_STATUSES, Chat, Turn, utcnow


@dataclass(frozen=True)
class ChatTurns:
    sessions: Sessions
    chat_id: int

    async def list(self) -> list[Turn]:
        async with self.sessions() as s:
            q = select(Turn).where(Turn.chat_id == self.chat_id).order_by(col(Turn.idx))
            return list(await s.exec(q))

    async def append(self, idx: int, user_text: str, content: dict[str, Any], status: str = "complete") -> Turn:
        """Write one finished turn and touch the chat, in one transaction."""
        if status not in TURN_STATUSES:
            raise ValueError(f"unknown turn status {status!r}")
        async with self.sessions.write() as s:
            turn = Turn(chat_id=self.chat_id, idx=idx, user_text=user_text, content=content, status=status)
            s.add(turn)
            chat = await s.get(Chat, self.chat_id)
            if chat is not None:
                chat.updated_at = utcnow()
                s.add(chat)
            await s.commit()
            await s.refresh(turn)
            return turn

    async def truncate_from(self, idx: int) -> int:
        """Delete every turn with index >= idx, in one transaction; returns how many went.

        Shell resets recorded after turn idx belong to the discarded future and go with it.
        """
        async with self.sessions.write() as s:
            stmt = delete(Turn).where(col(Turn.chat_id) == self.chat_id, col(Turn.idx) >= idx)
            result = await s.exec(stmt)
            chat = await s.get(Chat, self.chat_id)
            if chat is not None and any(r > idx for r in chat.shell_resets):
                chat.shell_resets = [r for r in chat.shell_resets if r <= idx]  # a new list: JSON is saved on assignment
                s.add(chat)
            await s.commit()
            return result.rowcount or 0

    async def record_shell_reset(self, before_turn: int) -> builtins.list[int]:  # `list` is a method here
        """Remember that the shell was reset before turn `before_turn`; returns all resets."""
        async with self.sessions.write() as s:
            chat = await s.get(Chat, self.chat_id)
            if chat is None:
                return []
            chat.shell_resets = sorted({*chat.shell_resets, before_turn})
            s.add(chat)
            await s.commit()
            return chat.shell_resets

    async def shell_resets(self) -> builtins.list[int]:
        async with self.sessions() as s:
            chat = await s.get(Chat, self.chat_id)
            return list(chat.shell_resets) if chat is not None else []
