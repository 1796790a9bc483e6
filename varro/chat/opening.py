"""Open a user's chat as a session in this process, as `LiveSessions` asks (app/state.py gives it this).

With several processes (`hub`), the chat may have a turn running on another one: the session then follows it
(varro/chat/remote.py) and claims the chat only once it is stored; otherwise it claims the chat at once, so a
process that held this user before can't write to it any more. Either way its own turns are published.
"""

from __future__ import annotations

import asyncio

from varro.chat.remote import RemoteRun
from varro.chat.session import ChatSession, SessionDeps
from varro.db.crud import ChatTurns, UserChats
from varro.db.models import RUNNING
from varro.scale.runlog import RunHub, RunRecord

RECORD_WAITS = 20  # tenths of a second


async def open_chat(chats: UserChats, chat_id: int, deps: SessionDeps, hub: RunHub | None = None) -> ChatSession:
    turns = await chats.turns(chat_id)
    if turns is None:
        raise LookupError(f"chat {chat_id} not found")
    record = await running_elsewhere(turns, chat_id, hub) if hub is not None else None
    if record is None:
        await turns.claim()
    if record is None and hub is not None:  # (one process: start-up stopped any such turn, app/state.py)
        # Stored `running` with nobody running it: its process died before it published anything.
        for turn in await turns.list(running=True):
            if turn.status == RUNNING:
                await turns.finish(turn.idx, turn.content, "stopped")
    session = ChatSession(chats.user_id, chat_id, turns, deps, chats)
    await session.load()
    if hub is not None:
        if record is not None:
            session.follow(RemoteRun(hub, record, chat_id))
        session.publish = hub.publisher(chats.user_id, chat_id)
    return session


async def running_elsewhere(turns: ChatTurns, chat_id: int, hub: RunHub) -> RunRecord | None:
    """Who runs the chat's turn, if another process does. A turn stored `running` with no record yet may have just
    begun there (the record comes with its first event, right after): it gets a moment to show up. A record whose
    turn is not `running` in the database is left from a batch lost with Redis: that turn is over."""
    for _ in range(RECORD_WAITS):
        found = await hub.record(chat_id)
        running = [t.idx for t in await turns.list(running=True) if t.status == RUNNING]
        if found is not None and found.turn not in running:
            await hub.forget(chat_id, found)
            found = None
        if found is not None:
            # One of ours has ended already: a run going on here is taken back from `Runs` before a chat is opened.
            return found if found.owner != hub.owner else None
        if not running:
            return None
        await asyncio.sleep(0.1)
    return None
