"""Shared links: an owner makes, lists and revokes them (through their chats, so ownership is checked as ever);
anyone with a token reads the snapshot it names, and a signed-in viewer copies it into a chat of their own."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlmodel import col, select

from varro.db.engine import Sessions
from varro.db.models import RUNNING, Chat, Share, Turn


@dataclass(frozen=True)
class Snapshot:
    share: Share
    owner_id: int  # whose uploads its figures are (never shown)
    turns: list[Turn]


@dataclass(frozen=True)
class SharedLinks:
    """The links of one user's chats (`user_id`), or, for reading by token, of nobody in particular."""

    sessions: Sessions
    user_id: int

    async def create(self, chat_id: int, include_files: bool = False) -> Share | None:
        """A link to the chat's shown turns as they are now (finished ones); None if the chat is not this user's."""
        async with self.sessions.write() as s:
            chat = await s.get(Chat, chat_id)
            if chat is None or chat.user_id != self.user_id:
                return None
            q = select(Turn.id).where(Turn.chat_id == chat_id, col(Turn.on_path), Turn.status != RUNNING)
            ids = [tid for tid in await s.exec(q.order_by(col(Turn.idx))) if tid is not None]
            share = Share(token=secrets.token_urlsafe(32), chat_id=chat_id, title=chat.title, turn_ids=ids,
                          include_files=include_files)
            s.add(share)
            await s.commit()
            await s.refresh(share)
            return share

    async def of_chat(self, chat_id: int) -> list[Share]:
        """The chat's links that still work, newest first (none if the chat is not this user's)."""
        async with self.sessions() as s:
            q = select(Share).join(Chat, col(Chat.id) == col(Share.chat_id)).where(
                Share.chat_id == chat_id, Chat.user_id == self.user_id, col(Share.revoked).is_(False))
            return list(await s.exec(q.order_by(col(Share.id).desc())))

    async def revoke(self, share_id: int) -> Share | None:
        """The link stops working at once; None if it is not a link of this user's."""
        async with self.sessions.write() as s:
            share = await s.get(Share, share_id)
            chat = await s.get(Chat, share.chat_id) if share is not None else None
            if share is None or chat is None or chat.user_id != self.user_id:
                return None
            share.revoked = True
            s.add(share)
            await s.commit()
            return share


async def read_shared(sessions: Sessions, token: str) -> Snapshot | None:
    """The snapshot a token names, or None (unknown, revoked, or its chat deleted): the caller says "not found"."""
    async with sessions() as s:
        share = (await s.exec(select(Share).where(Share.token == token, col(Share.revoked).is_(False)))).first()
        chat = await s.get(Chat, share.chat_id) if share is not None else None
        if share is None or chat is None:
            return None
        rows = {t.id: t for t in await s.exec(select(Turn).where(col(Turn.id).in_(share.turn_ids)))}
        return Snapshot(share, chat.user_id, [rows[tid] for tid in share.turn_ids if tid in rows])


async def copy_shared(sessions: Sessions, snapshot: Snapshot, user_id: int) -> tuple[int, list[tuple[int, int]]]:
    """A new chat of `user_id` holding the snapshot's turns (as one path): its id, and (shared turn id, copy's turn
    id) for each turn."""
    async with sessions.write() as s:
        chat = Chat(user_id=user_id, title=snapshot.share.title)
        s.add(chat)
        await s.flush()
        parent: Turn | None = None
        ids: list[tuple[int, int]] = []
        for turn in snapshot.turns:
            assert chat.id is not None
            copy = Turn(chat_id=chat.id, idx=turn.idx, user_text=turn.user_text, content=turn.content,
                        status=turn.status, parent_id=parent.id if parent is not None else None)
            s.add(copy)
            await s.flush()
            if turn.id is not None and copy.id is not None:
                ids.append((turn.id, copy.id))
            if parent is not None:
                parent.active_child_id = copy.id
                s.add(parent)
            parent = copy
        await s.commit()
        assert chat.id is not None
        return chat.id, ids
