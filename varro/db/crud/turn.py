"""Turns of one chat whose ownership was already checked: begin and finish a turn, list (or a range), switch versions.

A turn is stored when it starts (`begin`, status `running`, the user's words and nothing else) and completed
in place when it ends (`finish`): a crash mid-answer keeps what the user wrote. Turns form a tree (varro/db/tree.py):
`begin` at a position already shown (an edit, a regeneration) adds a version there and moves the shown path to it
in the same transaction; the turns it hides stay, and `switch` or `show` brings them back. Every read here
(`list`, `end`, `sizes`) reads the shown path.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, cast, func
from sqlalchemy.exc import NoResultFound
from sqlmodel import Session, col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from varro.db import tree
from varro.db.crud import turn_sql as sql
from varro.db.engine import Sessions, run_sync
from varro.db.models import RUNNING, TURN_STATUSES, Chat, Turn, utcnow

# The writes of `Sessions.transact` run in a session of their own that holds no objects: keeping loaded objects in
# step with an UPDATE (SQLAlchemy's default) is work for nothing there.
UNLOADED = {"synchronize_session": False}


class Fenced(Exception):
    """A write from a session that another process has taken over since (a newer epoch wrote to the chat)."""


def fence_in(s: Session, chat_id: int, fence: int | None) -> None:
    """Raise the chat's fence to `fence`, or refuse (`Fenced`) when a newer session wrote to it: in the write's own
    transaction, so nothing older follows. None: one process, nothing to fence."""
    if fence is None:
        return
    if sql.run(s, sql.FENCE, chat=chat_id, epoch=fence).rowcount == 0:
        raise Fenced(f"chat {chat_id} was taken over by a newer session (epoch > {fence})")


async def raise_fence(s: AsyncSession, chat_id: int, fence: int | None) -> None:
    """`fence_in` in an async session."""
    if fence is not None:
        await run_sync(s, fence_in, chat_id, fence)


@dataclass(frozen=True)
class ChatTurns:
    sessions: Sessions
    chat_id: int
    # The epoch of the live session writing (varro/scale): a write is refused once one of a newer epoch was made.
    # None: one process, nothing to fence.
    fence: int | None = None

    async def _check_fence(self, s: AsyncSession) -> None:
        await raise_fence(s, self.chat_id, self.fence)

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
            q = select(Turn).where(Turn.chat_id == self.chat_id, col(Turn.on_path), col(Turn.idx) >= start)
            q = q.order_by(col(Turn.idx))
            if stop is not None:
                q = q.where(col(Turn.idx) < stop)
            if not running:
                q = q.where(Turn.status != RUNNING)
            return list(await s.exec(q))

    async def end(self) -> int:
        """The index after the last finished turn (0 for none): what a page showing the whole chat calls `known`."""
        async with self.sessions() as s:
            last = await s.exec(select(func.max(Turn.idx)).where(Turn.chat_id == self.chat_id, col(Turn.on_path),
                                                            Turn.status != RUNNING))
            top = last.one()
            return 0 if top is None else top + 1

    async def sizes(self, before: int, limit: int, start: int = 0) -> builtins.list[tuple[int, int]]:
        """(index, stored characters) of the finished turns from `start` up to `before`, at most `limit`, newest
        first: what a page needs to choose which turns to read, without reading (decoding) any of them."""
        size = func.length(cast(col(Turn.content), Text)) + func.length(col(Turn.user_text))
        q = select(col(Turn.idx), size).where(Turn.chat_id == self.chat_id, col(Turn.on_path), Turn.status != RUNNING,
                                             col(Turn.idx) >= start, col(Turn.idx) < before)
        async with self.sessions() as s:
            return [(idx, n or 0) for idx, n in await s.exec(q.order_by(col(Turn.idx).desc()).limit(limit))]

    async def begin(self, idx: int, user_text: str, content: dict[str, Any]) -> Turn:
        """Store turn `idx` as `running`, after the shown turn `idx - 1`. A turn already shown at `idx` (an edit,
        a regeneration, or one a failed run left running) becomes an earlier version: it and the turns after it
        leave the shown path in the same transaction, and stay stored.

        Every turn's start waits for this, so it reads nothing back: four statements (three for the first turn),
        the shown turns from `idx` taken off the path (usually none), the insert, the parent's link to it, the
        chat's `updated_at`. In one hop of the event loop (`Sessions.transact`): many turns start at once."""
        return await self.sessions.transact(self._begin, idx, user_text, content)

    def _begin(self, s: Session, idx: int, user_text: str, content: dict[str, Any]) -> Turn:
        fence_in(s, self.chat_id, self.fence)
        self._hide_from(s, idx)
        now = utcnow()
        # Position 0 has no turn before it: the parent's subquery finds none (NULL).
        turn_id, parent = sql.run(s, sql.START, chat=self.chat_id, at=idx, words=user_text, body=content, state=RUNNING,
                                  now=now, before=idx - 1).one()
        if idx > 0 and sql.run(s, sql.LINK, chat=self.chat_id, before=idx - 1, child=turn_id).rowcount == 0:
            raise ValueError(f"there is no turn {idx - 1} to follow")  # the transaction is not committed
        sql.run(s, sql.TOUCH, chat=self.chat_id, now=now)
        return Turn(id=turn_id, chat_id=self.chat_id, idx=idx, user_text=user_text, content=content, status=RUNNING,
                    created_at=now, parent_id=parent, on_path=True)

    async def finish(self, idx: int, content: dict[str, Any], status: str) -> None:
        """Complete the running turn `idx` in place: its content and final status."""
        if status not in TURN_STATUSES:
            raise ValueError(f"unknown turn status {status!r}")
        # Two statements and no read, in one hop (`begin`): many answers end at once.
        await self.sessions.transact(self._finish, idx, content, status)

    def _finish(self, s: Session, idx: int, content: dict[str, Any], status: str) -> None:
        fence_in(s, self.chat_id, self.fence)
        if sql.run(s, sql.FINISH, chat=self.chat_id, at=idx, body=content, state=status).rowcount != 1:
            raise NoResultFound(f"chat {self.chat_id} shows no turn {idx} to finish")
        sql.run(s, sql.TOUCH, chat=self.chat_id, now=utcnow())

    async def _touch(self, s: Any) -> None:
        if (chat := await s.get(Chat, self.chat_id)) is not None:
            chat.updated_at = utcnow()
            s.add(chat)

    async def append(self, idx: int, user_text: str, content: dict[str, Any], status: str = "complete") -> Turn:
        """Write one finished turn (an import; tests) and touch the chat, in one transaction."""
        if status not in TURN_STATUSES:
            raise ValueError(f"unknown turn status {status!r}")
        return await self._write(idx, user_text, content, status)

    async def _write(self, idx: int, user_text: str, content: dict[str, Any], status: str) -> Turn:
        async with self.sessions.write() as s:
            await self._check_fence(s)
            parent = None
            if idx > 0:
                parent = (await s.exec(select(Turn).where(Turn.chat_id == self.chat_id, Turn.idx == idx - 1,
                                                          col(Turn.on_path)))).first()
                if parent is None:
                    raise ValueError(f"there is no turn {idx - 1} to follow")
            await run_sync(s, self._hide_from, idx)
            turn = Turn(chat_id=self.chat_id, idx=idx, user_text=user_text, content=content, status=status,
                        parent_id=parent.id if parent is not None else None)
            s.add(turn)
            await s.flush()
            if parent is not None:
                parent.active_child_id = turn.id
                s.add(parent)
            await self._touch(s)
            await s.commit()
            await s.refresh(turn)
            return turn

    def _hide_from(self, s: Session, idx: int) -> None:
        """Take the shown turns from `idx` on off the shown path (they stay stored, as earlier versions). Shell
        resets recorded after turn `idx` belong to the branch that is no longer shown and go with it."""
        # A reset after turn idx was recorded while a shown turn from idx on existed, and whatever took such a turn
        # off the path dropped it: with none hidden now there is none to drop (a new turn's start reads no chat).
        if sql.run(s, sql.HIDE_FROM, chat=self.chat_id, at=idx).rowcount:
            self._drop_resets_after(s, idx)

    async def _nodes(self, s: Any, start: int = 0, stop: int | None = None) -> builtins.list[tree.Node]:
        """The tree's shape (ids and links only); with a range, only the turns at those positions."""
        q = select(Turn.id, Turn.parent_id, Turn.idx, Turn.active_child_id).where(Turn.chat_id == self.chat_id,
                                                                                  col(Turn.idx) >= start)
        if stop is not None:
            q = q.where(col(Turn.idx) < stop)
        return [tree.Node(*row) for row in await s.exec(q)]

    async def _shown(self, s: Any) -> dict[int, int]:
        q = select(Turn.idx, Turn.id).where(Turn.chat_id == self.chat_id, col(Turn.on_path))
        return {idx: tid for idx, tid in await s.exec(q)}

    async def versions(self, start: int = 0, stop: int | None = None) -> dict[int, tuple[int, int]]:
        """For each shown turn in the range that has other versions: its id -> (which version, how many)."""
        async with self.sessions() as s:
            shown = [tid for idx, tid in (await self._shown(s)).items() if idx >= start and (stop is None or idx < stop)]
            return tree.versions(await self._nodes(s, start, stop), shown)  # a turn's versions share its position

    async def switch(self, k: int, to: int) -> bool:
        """Show version `to` (from 0) of turn `k`, with the branch below it that was last shown; False if there is
        no such version (nothing changes)."""
        async with self.sessions() as s:
            chosen = tree.sibling(await self._nodes(s), await self._shown(s), k, to)
        return chosen is not None and await self.show(chosen)

    async def show(self, turn_id: int) -> bool:
        """Make turn `turn_id` (of this chat, on any branch) part of the shown path, in one transaction; False if
        the chat has no such turn. A running turn stays where it is: its path can't change under it."""
        async with self.sessions.write() as s:
            await self._check_fence(s)
            nodes = await self._nodes(s)
            if turn_id not in {n.id for n in nodes}:
                return False
            path, remembered = tree.path_through(nodes, turn_id)
            running = (await s.exec(select(Turn.id).where(Turn.chat_id == self.chat_id, col(Turn.on_path),
                                                          Turn.status == RUNNING))).first()
            if running is not None and running not in path:
                return False
            old = await self._shown(s)
            await s.exec(update(Turn).where(col(Turn.chat_id) == self.chat_id, col(Turn.on_path)).values(on_path=False))
            await s.exec(update(Turn).where(col(Turn.id).in_(path)).values(on_path=True))
            for parent, child in remembered.items():
                await s.exec(update(Turn).where(col(Turn.id) == parent).values(active_child_id=child))
            first_change = next((i for i, tid in enumerate(path) if old.get(i) != tid), len(path))
            await run_sync(s, self._drop_resets_after, first_change)
            await s.commit()
            return True

    async def truncate_from(self, idx: int) -> int:
        """Delete every turn with index >= idx, on every branch, in one transaction; returns how many went.

        Shell resets recorded after turn idx belong to the discarded future and go with it.
        """
        async with self.sessions.write() as s:
            await self._check_fence(s)
            going = (col(Turn.chat_id) == self.chat_id, col(Turn.idx) >= idx)
            # counted first: a turn's versions go with it by cascade, which the delete's row count leaves out
            removed = (await s.exec(select(func.count()).select_from(Turn).where(*going))).one()
            await s.exec(delete(Turn).where(*going))
            await run_sync(s, self._drop_resets_after, idx)
            await s.commit()
            return removed

    def _drop_resets_after(self, s: Session, idx: int) -> None:
        chat = s.get(Chat, self.chat_id)
        if chat is not None and any(r > idx for r in chat.shell_resets):
            chat.shell_resets = [r for r in chat.shell_resets if r <= idx]  # a new list: JSON is saved on assignment
            s.add(chat)

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
