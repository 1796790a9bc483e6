"""A turn of this chat running on another process, followed here: its events come from the Redis stream
(varro/scale/runlog.py) to this session's tab, and Stop goes back to that process. When the turn is stored there,
this session claims the chat and reloads it; when that process died mid-turn, the turn is stored here, as
`stopped`, with what the stream kept of it. See docs/design.md, 12.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, TextPart, ThinkingPart, UserPromptPart

from varro.chat.content import Attachment, build_content, files_of, meta_of
from varro.chat.events import (
    Event,
    PartDelta,
    PartStarted,
    ProgressChanged,
    ResponseFinished,
    ToolsFinished,
    TurnFinished,
    TurnStarted,
)
from varro.chat.history import closed, fences_closed
from varro.chat.session import ChatSession
from varro.db.models import RUNNING, Turn, utcnow
from varro.scale.runlog import RunHub, RunRecord

log = logging.getLogger("varro.chat")


def recovered(user_text: str, events: list[Event]) -> tuple[list[ModelMessage], dict[str, list[Attachment]]]:
    """The turn's messages as far as its events show them: finished responses and tool steps whole, and the
    response that was streaming when the process died as the text and thinking that had arrived."""
    messages: list[ModelMessage] = [ModelRequest(parts=[UserPromptPart(user_text, timestamp=utcnow())])]
    attachments: dict[str, list[Attachment]] = {}
    open_parts: dict[int, dict[int, tuple[str, list[str]]]] = {}  # node -> part -> (kind, texts)
    for event in events:
        if isinstance(event, PartStarted):
            open_parts.setdefault(event.node, {})[event.part] = (event.kind, [event.content])
        elif isinstance(event, PartDelta) and event.part in open_parts.get(event.node, {}):
            open_parts[event.node][event.part][1].append(event.text)
        elif isinstance(event, ResponseFinished):
            open_parts.pop(event.node, None)
            messages.append(event.response)
        elif isinstance(event, ToolsFinished):
            messages.append(event.request)
            attachments.update(event.attachments)
    for parts in open_parts.values():  # a tool call cut short never ran: only the words are kept
        kept = [TextPart("".join(texts)) if kind == "text" else ThinkingPart("".join(texts))
                for _, (kind, texts) in sorted(parts.items()) if kind in ("text", "thinking")]
        if kept:
            messages.append(ModelResponse(parts=kept))
    return closed(messages), attachments


class RemoteRun:
    def __init__(self, hub: RunHub, record: RunRecord, chat_id: int) -> None:
        self.hub, self.record, self.chat_id = hub, record, chat_id

    async def stop(self) -> None:
        await self.hub.stop(self.record.user_id, self.chat_id)

    async def follow(self, session: ChatSession) -> None:
        """Relay the turn to the session's tab until it ends; then the chat is this session's."""
        k = self.record.turn
        seen: list[Event] = []

        async def stored() -> bool:
            return await stored_turn(session, k) is not None

        async for event in self.hub.events(self.chat_id, self.record, stored=stored):
            if isinstance(event, TurnStarted):  # the page here loaded without turn k: it is appended, not replaced
                event = replace(event, replaces=False)
            elif not seen:  # the stream's own start is gone (Redis lost it): the record says what it was
                await session.relay(TurnStarted(k, self.record.user_text))
            seen.append(event)
            await session.relay(event)
        finished = any(isinstance(e, TurnFinished) for e in seen)
        await session.turns.claim()  # from now on the process that ran it can't write here
        if finished:
            await session.load()
        elif (row := await stored_turn(session, k)) is not None:  # stored there; its last events were lost here
            await self.hub.forget(self.chat_id, self.record)
            await session.load()
            await session.relay(ProgressChanged(k, "done"))
            await session.relay(TurnFinished(k, row.status, meta_of(row.content)))  # type: ignore[arg-type]
        elif not await self.hub.alive(self.record.owner):
            meta = await store_stopped(session, self.record, seen)
            await self.hub.forget(self.chat_id)
            await session.load()
            await session.relay(ProgressChanged(k, "done"))
            await session.relay(TurnFinished(k, "stopped", meta))
        else:
            await session.load()


async def stored_turn(session: ChatSession, k: int) -> Turn | None:
    """Turn `k` if it is stored (finished, whatever its status); None while it runs, or if it is not there."""
    return next((t for t in await session.turns.list(start=k, stop=k + 1)), None)


async def store_stopped(session: ChatSession, record: RunRecord, events: list[Event]) -> dict[str, Any]:
    """Store the turn a dead process was running, as `stopped`, with what its stream kept."""
    messages, attachments = recovered(record.user_text, events)
    messages = fences_closed(messages)
    said = "The server writing this answer went away; what it had written is kept."
    meta: dict[str, Any] = {"model": session.deps.model_name(session.deps.model), "usage": {},
                            "notices": [{"message": said, "refs": []}], "cut": True}
    row = next((t for t in await session.turns.list(running=True) if t.idx == record.turn), None)
    if row is not None and row.status != RUNNING:
        return meta  # another process stored it first
    files = files_of(row.content) if row is not None else ()
    content = build_content(record.user_text, utcnow(), messages, attachments, meta, files)
    if row is None:  # run by a process from before turns were stored as they begin
        await session.turns.append(record.turn, record.user_text, content, "stopped")
    else:  # the user's message was stored when the turn began (`running`): finished in place
        await session.turns.finish(record.turn, content, "stopped")
    log.warning("turn %s of chat %s was running on a process that died; stored as stopped", record.turn,
                session.chat_id)
    return meta
