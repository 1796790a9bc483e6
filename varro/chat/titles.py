"""Naming a new chat: a quick title from its first message at once, then the model's, in the background.

The quick title is stored at once, and shown a moment after the answer shows its first output (or after `HOLD_S`, for a
model slow to start): on the page a new title is a swap of the header and a refresh of the sidebar, 10 to 20 ms of the
browser's main thread, which held back the paint of the answer's first words when it came beside them
(docs/benchmarks.md, "The first token").

The model's title never competes with an answer on the same provider (a small local server halves its speed for
both, and the title may outlive its timeout there): it is asked for once an answer has completed, streamed, and
dropped (its connection closed, so the server stops) when another answer starts. A separate title model (`VARRO_TITLE_MODEL`) is asked at once; `off` asks none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from pydantic_ai.models import Model

from varro.agent.title import model_title, quick_title
from varro.chat.events import Event, TitleChanged
from varro.db.crud import UserChats
from varro.db.crud.chat import clean_title

log = logging.getLogger("varro.chat")
IDLE_S = 2.0
HOLD_S = 0.25  # the longest a stored quick title waits for the answer's first output before it is shown anyway
AFTER_OUTPUT_S = 0.02  # and after that output: a frame of the page, so that it paints the output first


class Titler:
    def __init__(self, chats: UserChats | None, chat_id: int, model: Model | None,
                 emit: Callable[[Event], Awaitable[None]], shares_provider: bool = True) -> None:
        self.chats = chats  # None: titles are not this session's business (tests)
        self.chat_id = chat_id
        self.model = model  # None: quick titles only
        self.shares_provider = shares_provider  # the title model is the one that answers
        self.emit = emit
        self._tasks: set[asyncio.Task[None]] = set()
        self._model_task: asyncio.Task[None] | None = None
        self._waiting: str | None = None  # a first message whose model title waits for the answer to finish
        # After an answer, the provider is left alone this long first: a next message sent at once (a follow-up, a
        # regenerate) then finds it free, rather than a title it must first notice was cancelled.
        self.idle_s = IDLE_S
        self.hold_s = HOLD_S
        self._shown = asyncio.Event()  # the answer shows its first output: a held quick title may go

    def first_message(self, text: str) -> None:
        """Name the chat after `text` (a first message, or its edit) unless the user chose the title; beside the turn,
        not before it: the title's database write would otherwise hold the answer's first token back (~90 ms)."""
        if self.chats is None:
            return
        self.cancel()  # an earlier naming still under way would otherwise land after this one
        self._shown.clear()
        self._spawn(self._quick(text))
        if self.model is not None and self.shares_provider:
            self._waiting = text
        elif self.model is not None:
            self._model_task = self._spawn(self._refine(text))

    def answer_started(self) -> None:
        """An answer needs the provider: a title still being written on it is dropped (the quick one stays)."""
        if self.shares_provider and self._model_task is not None:
            self._model_task.cancel()
            self._model_task = None

    def output_started(self) -> None:
        """The answer shows its first output (or has ended): the quick title held for it is shown now."""
        self._shown.set()

    def answer_finished(self, complete: bool = True, sent: bool = True) -> None:
        """Ask for the waiting title after an answer that completed. After a stop or a failure the provider may
        still be busy with the abandoned prompt (llama-server finishes a prefill before it notices): the title
        waits for the next complete answer. A message refused before it was sent (too long) gets none."""
        if not sent:
            self._waiting = None
        if self._waiting is not None and complete:
            text, self._waiting = self._waiting, None
            self._model_task = self._spawn(self._refine(text, after_s=self.idle_s))

    def _spawn(self, work: Awaitable[None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _quick(self, text: str) -> None:
        """A title is a nicety: if naming fails (the database is busy, say), the turn goes on without it."""
        try:
            await self._retitle(quick_title(text), held=True)
        except Exception:
            log.warning("could not title chat %s", self.chat_id, exc_info=True)

    async def _refine(self, text: str, after_s: float = 0) -> None:
        assert self.model is not None
        if after_s:
            await asyncio.sleep(after_s)  # cancelled there by a next answer: no request at all
        title = await model_title(self.model, text)
        if title:
            try:
                await self._retitle(title)
            except Exception:
                log.warning("could not retitle chat %s", self.chat_id, exc_info=True)

    async def _retitle(self, title: str, held: bool = False) -> None:
        """Name the chat `title` unless the user chose its title, even while the model was writing this one; `held`:
        shown once the answer shows its first output, at most `hold_s` later."""
        assert self.chats is not None
        if await self.chats.retitle_if_auto(self.chat_id, title):
            if held:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.hold_s):
                        await self._shown.wait()
                        await asyncio.sleep(AFTER_OUTPUT_S)
            await self.emit(TitleChanged(clean_title(title)))

    def cancel(self) -> None:
        self._waiting = None
        for task in list(self._tasks):
            task.cancel()
