"""Naming a new chat: a quick title from its first message, then the model's, in the background."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from pydantic_ai.models import Model

from varro.agent.title import model_title, quick_title
from varro.chat.events import Event, TitleChanged
from varro.db.crud import UserChats

log = logging.getLogger("varro.chat")


class Titler:
    def __init__(self, chats: UserChats | None, chat_id: int, model: Model,
                 emit: Callable[[Event], Awaitable[None]]) -> None:
        self.chats = chats  # None: titles are not this session's business (tests)
        self.chat_id = chat_id
        self.model = model
        self.emit = emit
        self._task: asyncio.Task[None] | None = None

    def first_message(self, text: str) -> None:
        """Name the chat after `text` (a first message, or its edit) unless the user chose the title; beside the turn, not before it:
        the title's database write would otherwise hold the answer's first token back (~90 ms measured)."""
        if self.chats is not None:
            self.cancel()  # an earlier naming still under way would otherwise land after this one
            self._task = asyncio.create_task(self._name(text))

    async def _name(self, text: str) -> None:
        """A quick title at once, the model's better one when it comes.

        A title is a nicety: if naming fails (the database is busy, say), the turn goes on without it.
        """
        if self.chats is None:
            return
        try:
            chat = await self.chats.get(self.chat_id)
            if chat is None or (chat.title and chat.title != chat.auto_title):
                return
            await self._retitle(quick_title(text))
        except Exception:
            log.warning("could not title chat %s", self.chat_id, exc_info=True)
            return
        title = await model_title(self.model, text)
        if title:
            try:
                await self._retitle(title)
            except Exception:
                log.warning("could not retitle chat %s", self.chat_id, exc_info=True)

    async def _retitle(self, title: str) -> None:
        if self.chats is not None and await self.chats.rename(self.chat_id, title, auto=True) is not None:
            await self.emit(TitleChanged(title))

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
