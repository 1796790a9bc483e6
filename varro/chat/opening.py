"""Open a user's chat as a session in this process, as `LiveSessions` asks (app/state.py gives it this).

With several processes (`hub`), the chat may have a turn running on another one: the session then follows it
(varro/chat/remote.py) and claims the chat only once it is stored; otherwise it claims the chat at once, so a
process that held this user before can't write to it any more. Either way its own turns are published.
"""

from __future__ import annotations

from varro.chat.remote import RemoteRun
from varro.chat.session import ChatSession, SessionDeps
from varro.db.crud import UserChats
from varro.scale.runlog import RunHub


async def open_chat(chats: UserChats, chat_id: int, deps: SessionDeps, hub: RunHub | None = None) -> ChatSession:
    turns = await chats.turns(chat_id)
    if turns is None:
        raise LookupError(f"chat {chat_id} not found")
    record = None
    # One of ours has ended already: a run going on here is taken back from `Runs` before a chat is opened.
    if hub is not None and (found := await hub.record(chat_id)) is not None and found.owner != hub.owner:
        record = found
    if record is None:
        await turns.claim()
    session = ChatSession(chats.user_id, chat_id, turns, deps, chats)
    await session.load()
    if hub is not None:
        if record is not None:
            session.follow(RemoteRun(hub, record, chat_id))
        session.publish = hub.publisher(chats.user_id, chat_id)
    return session
