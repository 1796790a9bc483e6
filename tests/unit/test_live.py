"""The live-session registry: one session per user, newest tab wins, a run outlives its tab, catch-up, the cap."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel

from tests.kernels import shared_client
from tests.waits import until
from varro.chat.events import Event, PartDelta, TurnFinished, TurnStarted
from varro.chat.live import LiveSessions
from varro.chat.session import ChatSession, SessionDeps
from varro.db.crud import Store
from varro.uploads import UploadStore


class FakeTab:
    """Records what the registry delivers to a tab."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.caught_up: list[Event] = []
        self.was_replaced = False
        self.same_chat: bool | None = None  # what the tab was told took over: this chat elsewhere, or another chat
        self.running: bool | None = None

    async def deliver(self, event: Event) -> None:
        self.events.append(event)

    async def catch_up(self, events: list[Event], running: bool) -> None:
        self.caught_up.extend(events)
        self.running = running

    async def replaced(self, same_chat: bool) -> None:
        self.was_replaced, self.same_chat = True, same_chat


def slow_words(n: int = 60, delay: float = 0.01) -> FunctionModel:
    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        for i in range(n):
            yield f"w{i} "
            await asyncio.sleep(delay)

    return FunctionModel(stream_function=stream)


def held_words(gate: asyncio.Event, n: int = 60) -> FunctionModel:
    """`n` words, the last held back until the test sets `gate`: an answer surely still running until then."""
    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        for i in range(n):
            if i == n - 1:
                await gate.wait()
            yield f"w{i} "
            await asyncio.sleep(0)

    return FunctionModel(stream_function=stream)


async def registry(store: Store, tmp_path: Path, model: FunctionModel, max_runs: int = 2,
                   n_chats: int = 2) -> tuple[LiveSessions, int, list[int]]:
    user = await store.users.ensure("u")
    chats = store.chats.for_user(user.id)
    chat_ids = [(await chats.create()).id for _ in range(n_chats)]
    deps = SessionDeps(model=model, uploads=UploadStore(tmp_path / "up"),
                       host=shared_client())

    async def open_session(user_id: int, chat_id: int) -> ChatSession:
        session = ChatSession(user_id, chat_id, await store.chats.for_user(user_id).turns(chat_id), deps)
        await session.load()
        return session

    return LiveSessions(open_session, max_runs=max_runs), user.id, chat_ids


async def test_one_session_per_user_newest_tab_wins(store: Store, tmp_path: Path) -> None:
    live, uid, (chat, _) = await registry(store, tmp_path, slow_words(5, 0))
    old, new = FakeTab(), FakeTab()
    first = await live.connect(uid, chat, old)
    await live.attach(uid, old, 0)
    second = await live.connect(uid, chat, new)
    await live.attach(uid, new, 0)
    assert len(live) == 1 and second is first, "same chat: the session (and its kernel) is handed over"
    assert old.was_replaced and old.same_chat, "told the truth: this chat is open in another tab"
    await second.send("hi")
    assert old.events == [] and any(isinstance(e, TurnFinished) for e in new.events)
    await live.disconnect(uid, old)  # the replaced tab's socket closing changes nothing
    assert len(live) == 1
    await live.disconnect(uid, new)
    assert len(live) == 0
    await live.close_all()


async def test_switching_chat_ends_the_old_session(store: Store, tmp_path: Path) -> None:
    live, uid, (a, b) = await registry(store, tmp_path, slow_words(5, 0))
    tab_a, tab_b = FakeTab(), FakeTab()
    session_a = await live.connect(uid, a, tab_a)
    session_b = await live.connect(uid, b, tab_b)
    assert session_a is not session_b and len(live) == 1 and live.get(uid).chat_id == b
    assert tab_a.was_replaced and tab_a.same_chat is False, "told that another chat was opened, not this one"
    assert len(live.runs) == 0, "an idle session just ends"
    await live.close_all()


async def test_idle_disconnect_ends_the_session_at_once(store: Store, tmp_path: Path) -> None:
    live, uid, (chat, _) = await registry(store, tmp_path, slow_words(5, 0))
    tab = FakeTab()
    await live.connect(uid, chat, tab)
    await live.disconnect(uid, tab)
    assert len(live) == 0 and live.get(uid) is None


async def test_a_running_turn_survives_a_drop_and_is_caught_up(store: Store, tmp_path: Path) -> None:
    live, uid, (chat, _) = await registry(store, tmp_path, slow_words(80, 0.01))
    tab = FakeTab()
    session = await live.connect(uid, chat, tab)
    await live.attach(uid, tab, 0)
    task = session.send("long one")
    await until(lambda: any(isinstance(e, PartDelta) for e in tab.events), "the answer to stream to the tab")
    await live.disconnect(uid, tab)
    assert len(live) == 0 and live.running(uid) == {chat}, "the run goes on without a tab"
    await asyncio.sleep(0.1)
    back = FakeTab()
    assert await live.connect(uid, chat, back) is session
    await live.attach(uid, back, 0)
    assert isinstance(back.caught_up[0], TurnStarted) and not back.caught_up[0].replaces
    missed = "".join(e.text for e in back.caught_up if isinstance(e, PartDelta))
    await task
    rest = "".join(e.text for e in back.events if isinstance(e, PartDelta))
    start = next(e for e in back.caught_up if type(e).__name__ == "PartStarted")
    assert start.content + missed + rest == "".join(f"w{i} " for i in range(80)), "nothing lost, nothing twice"
    assert (await session.turns.list())[0].status == "complete"
    await live.close_all()


async def test_a_page_that_has_the_turn_is_not_sent_it_again(store: Store, tmp_path: Path) -> None:
    live, uid, (chat, _) = await registry(store, tmp_path, slow_words(5, 0))
    tab = FakeTab()
    session = await live.connect(uid, chat, tab)
    await live.attach(uid, tab, 0)
    await session.send("done before the reload")
    again = FakeTab()
    await live.connect(uid, chat, again)
    await live.attach(uid, again, 1)
    assert again.caught_up == []
    await live.close_all()


@pytest.mark.parametrize("known", [0])
async def test_a_page_loaded_before_the_turn_was_stored_gets_it(store: Store, tmp_path: Path, known: int) -> None:
    live, uid, (chat, _) = await registry(store, tmp_path, slow_words(5, 0))
    tab = FakeTab()
    session = await live.connect(uid, chat, tab)
    await session.send("finished while the new page loaded")
    again = FakeTab()
    await live.connect(uid, chat, again)
    await live.attach(uid, again, known)
    assert isinstance(again.caught_up[-1], TurnFinished)
    await live.close_all()
