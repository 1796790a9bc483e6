"""Chats of one user: recent, get, create, rename, pin, archive, delete."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select, update

from varro.db.crud.share import SharedLinks
from varro.db.crud.turn import UNLOADED, ChatTurns, fence_in, raise_fence
from varro.db.engine import Sessions
from varro.db.models import Chat, utcnow
from varro.db.search import Hit, search_chats

TITLE_MAX = 80


def clean_title(title: str) -> str:
    """One line, trimmed, at most TITLE_MAX characters."""
    line = " ".join(title.split())
    return line if len(line) <= TITLE_MAX else line[: TITLE_MAX - 1].rstrip() + "…"


@dataclass(frozen=True)
class ChatCrud:
    sessions: Sessions

    def for_user(self, user_id: int, fence: int | None = None) -> UserChats:
        """The user's chats; with `fence`, writes to their turns carry that epoch (varro/db/crud/turn.py)."""
        return UserChats(self.sessions, user_id, fence)


@dataclass(frozen=True)
class UserChats:
    sessions: Sessions
    user_id: int
    fence: int | None = None

    @property
    def links(self) -> SharedLinks:
        """The shared links of this user's chats."""
        return SharedLinks(self.sessions, self.user_id)

    async def search(self, q: str, limit: int = 30, time_limit: float = 3.0) -> list[Hit]:
        """This user's chats whose title or messages match `q` (varro/db/search.py: SearchRefused past its caps)."""
        return await search_chats(self.sessions, self.user_id, q, limit, time_limit)

    async def recent(self, limit: int | None = 20, offset: int = 0, archived: bool = False,
                     pinned_first: bool = False) -> list[Chat]:
        """Newest first, without the archived ones (or only those: `archived`); `limit=None` for every chat;
        `pinned_first`: the pinned chats ahead of the others (the sidebar's order)."""
        async with self.sessions() as s:
            q = select(Chat).where(Chat.user_id == self.user_id, col(Chat.archived) == archived)
            if pinned_first:
                q = q.order_by(col(Chat.pinned).desc())
            q = q.order_by(col(Chat.updated_at).desc(), col(Chat.id).desc())
            return list(await s.exec(q.offset(offset).limit(limit)))

    async def mark(self, chat_id: int, pinned: bool | None = None, archived: bool | None = None) -> Chat | None:
        """Pin or unpin, archive or restore the chat (its `updated_at` stays: it keeps its place by date)."""
        async with self.sessions.write() as s:
            chat = await s.get(Chat, chat_id)
            if chat is None or chat.user_id != self.user_id:
                return None
            if pinned is not None:
                chat.pinned = pinned
            if archived is not None:
                chat.archived = archived
            s.add(chat)
            await s.commit()
            await s.refresh(chat)
            return chat

    async def get(self, chat_id: int) -> Chat | None:
        """The chat if it exists and is this user's; None otherwise (the caller says "not found")."""
        async with self.sessions() as s:
            chat = await s.get(Chat, chat_id)
            return chat if chat is not None and chat.user_id == self.user_id else None

    async def create(self, title: str = "") -> Chat:
        async with self.sessions.write() as s:
            chat = Chat(user_id=self.user_id, title=clean_title(title))
            s.add(chat)
            await s.commit()
            await s.refresh(chat)
            return chat

    async def rename(self, chat_id: int, title: str, auto: bool = False) -> Chat | None:
        """Set the title; `auto` marks it as Varro's (from the first message), which an edit of it may replace.
        A session's rename (its titler's) carries its fence: refused (`Fenced`) once a newer session wrote."""
        async with self.sessions.write() as s:
            chat = await s.get(Chat, chat_id)
            if chat is None or chat.user_id != self.user_id:
                return None
            await raise_fence(s, chat_id, self.fence)
            chat.title = clean_title(title)
            if auto:
                chat.auto_title = chat.title
            chat.updated_at = utcnow()
            s.add(chat)
            await s.commit()
            await s.refresh(chat)
            return chat

    async def retitle_if_auto(self, chat_id: int, title: str) -> bool:
        """Give the chat Varro's title `title` unless the user chose one (a title other than Varro's last), in one
        conditional statement: a rename by the user that lands first is kept, with no read before the write. False
        when the chat is not this user's or its title is the user's. Carries the fence as `rename` does."""
        title = clean_title(title)
        user_chose = (col(Chat.title) != "") & (col(Chat.title) != col(Chat.auto_title))
        stmt = (update(Chat).where(col(Chat.id) == chat_id, col(Chat.user_id) == self.user_id, ~user_chose)
                .values(title=title, auto_title=title, updated_at=utcnow()))

        def retitle(s: Session) -> bool:  # in one hop (`Sessions.transact`): every new chat is named at once
            if s.exec(stmt, execution_options=UNLOADED).rowcount != 1:
                return False
            fence_in(s, chat_id, self.fence)
            return True

        return await self.sessions.transact(retitle)

    async def delete(self, chat_id: int) -> bool:
        """Delete the chat and (by cascade) its turns; False when it is not this user's."""
        async with self.sessions.write() as s:
            chat = await s.get(Chat, chat_id)
            if chat is None or chat.user_id != self.user_id:
                return False
            await s.delete(chat)
            await s.commit()
            return True

    async def turns(self, chat_id: int) -> ChatTurns | None:
        """The turns of one of this user's chats; None when the chat is not this user's."""
        chat = await self.get(chat_id)
        return None if chat is None or chat.id is None else ChatTurns(self.sessions, chat.id, self.fence)
