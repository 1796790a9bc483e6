"""Turns of one chat whose ownership was already checked: begin and finish a turn, list (or a range), truncate_from.

A turn is stored when it starts (`begin`, status `running`, the user's words and nothing else) and completed
in place when it ends (`finish`): a crash mid-answer keeps what the user wrote. `begin` removes the turns an
edit replaces in the same transaction, so after a crash the chat has either the old turns or the new one.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, cast, func
from sqlmodel import col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from varro.db.engine import Sessions
from varro.db.models import RUNNING, TURN_STATUSES, Chat, Turn, utcnow


class Fenced(Exception):
    """A write from a session that another process has taken over since (a newer epoch wrote to the chat)."""


@dataclass(frozen=True)
class ChatTurns:
    sessions: Sessions
    chat_id: int
    # The epoch of the live session writing (varro/scale): a write is refused once one of a newer epoch was made.
    # None: one process, nothing to fence.
    fence: int | None = None

    async def _check_fence(self, s: AsyncSession) -> None:
        """Raise the chat's fence to ours, or refuse: in the write's own transaction, so nothing older follows."""
        if self.fence is None:
            return
        stmt = update(Chat).where(col(Chat.id) == self.chat_id, col(Chat.fence) <= self.fence).values(fence=self.fence)
        if (await s.exec(stmt)).rowcount == 0:
            raise Fenced(f"chat {self.chat_id} was taken over by a newer session (epoch > {self.fence})")

    async def claim(self) -> None:
        """Raise the chat's fence to this session's epoch: from now on an older session's writes are refused."""
        if self.fence is not None:
            async with self.sessions.write() as s:
                await self._check_fence(s)
                await s.commit()

    async def list(self, running: bool = False, start: int = 0, stop: int | None = None) -> list[Turn]:
        """The finished turns in order (and the one being answered, with `running`: pages show that one live);
        with `start` and `stop`, only those whose index is in that range."""
        async with self.sessions() as s:
            q = select(Turn).where(Turn.chat_id == self.chat_id, col(Turn.idx) >= start).order_by(col(Turn.idx))
            if stop is not None:
                q = q.where(col(Turn.idx) < stop)
            if not running:
                q = q.where(Turn.status != RUNNING)
            return list(await s.exec(q))

    async def end(self) -> int:
        """The index after the last finished turn (0 for none): what a page showing the whole chat calls `known`."""
        async with self.sessions() as s:
            last = await s.exec(select(func.max(Turn.idx)).where(Turn.chat_id == self.chat_id, Turn.status != RUNNING))
            top = last.one()
            return 0 if top is None else top + 1

    async def sizes(self, before: int, limit: int, start: int = 0) -> builtins.list[tuple[int, int]]:
        """(index, stored characters) of the finished turns from `start` up to `before`, at most `limit`, newest
        first: what a page needs to choose which turns to read, without reading (decoding) any of them."""
        size = func.length(cast(col(Turn.content), Text)) + func.length(col(Turn.user_text))
        q = select(col(Turn.idx), size).where(Turn.chat_id == self.chat_id, Turn.status != RUNNING,
                                             col(Turn.idx) >= start, col(Turn.idx) < before)
        async with self.sessions() as s:
            return [(idx, n or 0) for idx, n in await s.exec(q.order_by(col(Turn.idx).desc()).limit(limit))]

    async def begin(self, idx: int, user_text: str, content: dict[str, Any]) -> Turn:
        """Store turn `idx` as `running`. Turns from `idx` on (those an edit replaces, or one a failed run left
        running) go in the same transaction."""
        return await self._write(idx, user_text, content, RUNNING, replace=True)

    async def finish(self, idx: int, content: dict[str, Any], status: str) -> None:
        """Complete the running turn `idx` in place: its content and final status."""
        if status not in TURN_STATUSES:
            raise ValueError(f"unknown turn status {status!r}")
        async with self.sessions.write() as s:
            await self._check_fence(s)
            turn = (await s.exec(select(Turn).where(Turn.chat_id == self.chat_id, Turn.idx == idx))).one()
            turn.content, turn.status = content, status
            s.add(turn)
            await self._touch(s)
            await s.commit()

    async def _touch(self, s: Any) -> None:
        if (chat := await s.get(Chat, self.chat_id)) is not None:
            chat.updated_at = utcnow()
            s.add(chat)

    async def append(self, idx: int, user_text: str, content: dict[str, Any], status: str = "complete") -> Turn:
        """Write one finished turn (an import; tests) and touch the chat, in one transaction."""
        if status not in TURN_STATUSES:
            raise ValueError(f"unknown turn status {status!r}")
        return await self._write(idx, user_text, content, status)

    async def _write(self, idx: int, user_text: str, content: dict[str, Any], status: str, replace: bool = False) -> Turn:
        async with self.sessions.write() as s:
            await self._check_fence(s)
            if replace:
                await self._truncate(s, idx)
            turn = Turn(chat_id=self.chat_id, idx=idx, user_text=user_text, content=content, status=status)
            s.add(turn)
            await self._touch(s)
            await s.commit()
            await s.refresh(turn)
            return turn

    async def truncate_from(self, idx: int) -> int:
        """Delete every turn with index >= idx, in one transaction; returns how many went.

        Shell resets recorded after turn idx belong to the discarded future and go with it.
        """
        async with self.sessions.write() as s:
            await self._check_fence(s)
            removed = await self._truncate(s, idx)
            await s.commit()
            return removed

    async def _truncate(self, s: Any, idx: int) -> int:
        result = await s.exec(delete(Turn).where(col(Turn.chat_id) == self.chat_id, col(Turn.idx) >= idx))
        chat = await s.get(Chat, self.chat_id)
        if chat is not None and any(r > idx for r in chat.shell_resets):
            chat.shell_resets = [r for r in chat.shell_resets if r <= idx]  # a new list: JSON is saved on assignment
            s.add(chat)
        return result.rowcount or 0

    async def record_shell_reset(self, before_turn: int) -> builtins.list[int]:  # `list` is a method here
        """Remember that the shell was reset before turn `before_turn`; returns all resets."""
        async with self.sessions.write() as s:
            await self._check_fence(s)
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
