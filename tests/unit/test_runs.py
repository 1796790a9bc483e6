"""A running answer outlives its tab: switching chat, a newer tab on another chat, or closing the tab lets it run
to its end and be stored complete; only Stop stops it; a user has at most VARRO_MAX_RUNS_PER_USER running."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.unit.test_live import FakeTab, held_words, registry
from tests.waits import until
from varro.chat.events import PartDelta, TurnFinished
from varro.chat.live import LiveSessions
from varro.chat.session import ChatSession
from varro.db.crud import Store

WORDS = "".join(f"w{i} " for i in range(60))


async def started(live: LiveSessions, uid: int, chat: int, tab: FakeTab, text: str = "go") -> None:
    """Open `chat` in `tab` and send `text`; return once its answer is streaming."""
    session = await live.connect(uid, chat, tab)
    await live.attach(uid, tab, 0)
    session.send(text)
    await until(lambda: any(isinstance(e, PartDelta) for e in session.catch_up(0)), "the answer to stream")


async def went_and_came_back(live: LiveSessions, uid: int, a: int, b: int) -> tuple[ChatSession, FakeTab]:
    """An answer starts in A, the tab moves to B, then back to A: A's session and the tab now on it."""
    await started(live, uid, a, FakeTab())
    await live.connect(uid, b, FakeTab())
    back = FakeTab()
    session = await live.connect(uid, a, back)
    assert len(live.runs) == 0 and live.running(uid) == {a}, "the tab took the run back"
    await live.attach(uid, back, 0)
    return session, back


async def stored(store: Store, uid: int, chat: int) -> list[tuple[str, str]]:
    turns = await (await store.chats.for_user(uid).turns(chat)).list()
    return [(t.status, "".join(p.get("content", "") for m in t.content["assistant"]["messages"]
                              for p in m["parts"] if p.get("part_kind") == "text")) for t in turns]


@pytest.mark.parametrize("leave", ["switch chat", "close the tab"])
async def test_a_tab_that_leaves_lets_the_answer_finish_and_be_stored_complete(store: Store, tmp_path: Path,
                                                                              leave: str) -> None:
    gate = asyncio.Event()
    live, uid, (a, b) = await registry(store, tmp_path, held_words(gate, 60))
    tab = FakeTab()
    await started(live, uid, a, tab)
    if leave == "switch chat":
        await live.connect(uid, b, FakeTab())  # the same tab (a new socket) opens chat B
    else:
        await live.disconnect(uid, tab)
    assert live.running(uid) == {a}, "the chat menu can show A still running"
    gate.set()
    await until(lambda: len(live.runs) == 0, "A's answer to finish without a tab")
    assert await stored(store, uid, a) == [("complete", WORDS)]
    assert live.running(uid) == set()
    await live.close_all()


async def test_coming_back_while_it_runs_catches_up_and_it_finishes_live(store: Store, tmp_path: Path) -> None:
    gate = asyncio.Event()
    live, uid, (a, b) = await registry(store, tmp_path, held_words(gate, 150))
    session, back = await went_and_came_back(live, uid, a, b)
    assert back.running and back.caught_up, "caught up on the answer so far"
    gate.set()
    await session.wait()
    assert any(isinstance(e, TurnFinished) and e.status == "complete" for e in back.events)
    assert await stored(store, uid, a) == [("complete", "".join(f"w{i} " for i in range(150)))]
    await live.close_all()


async def test_only_stop_stops_it(store: Store, tmp_path: Path) -> None:
    live, uid, (a, b) = await registry(store, tmp_path, held_words(asyncio.Event()))
    session, _ = await went_and_came_back(live, uid, a, b)
    await session.stop()
    await session.wait()
    assert (await stored(store, uid, a))[0][0] == "stopped"
    await live.close_all()


async def test_the_cap_counts_every_running_answer_of_the_user(store: Store, tmp_path: Path) -> None:
    live, uid, (a, b, c) = await registry(store, tmp_path, held_words(asyncio.Event()), max_runs=2, n_chats=3)
    assert await live.refusal(uid) is None
    await started(live, uid, a, FakeTab())
    assert await live.refusal(uid) is None, "one running: a second may start"
    await started(live, uid, b, FakeTab())
    assert live.running(uid) == {a, b}
    await live.connect(uid, c, FakeTab())
    why = await live.refusal(uid)
    assert why is not None and "2 answers are still being written" in why and "limit is 2" in why
    session_b = await live.connect(uid, b, FakeTab())  # stop one: room again
    await session_b.stop()
    await session_b.wait()
    assert live.running(uid) == {a} and await live.refusal(uid) is None
    await live.close_all()
    assert len(live.runs) == 0


async def test_the_cap_is_per_user(store: Store, tmp_path: Path) -> None:
    live, uid, (a, _) = await registry(store, tmp_path, held_words(asyncio.Event()), max_runs=1)
    await started(live, uid, a, FakeTab())
    assert await live.refusal(uid) is not None
    other = await store.users.ensure("someone else")
    assert await live.refusal(other.id) is None and live.running(other.id) == set()
    await live.close_all()


async def test_deleting_a_chat_ends_its_run_without_a_tab(store: Store, tmp_path: Path) -> None:
    live, uid, (a, b) = await registry(store, tmp_path, held_words(asyncio.Event()))
    await started(live, uid, a, FakeTab())
    await live.connect(uid, b, FakeTab())
    await live.end(uid, a)
    assert live.running(uid) == set() and len(live.runs) == 0
    await live.close_all()


async def test_server_shutdown_stops_and_stores_runs_without_a_tab(store: Store, tmp_path: Path) -> None:
    live, uid, (a, b) = await registry(store, tmp_path, held_words(asyncio.Event()))
    await started(live, uid, a, FakeTab())
    await live.connect(uid, b, FakeTab())
    await live.close_all()
    assert [s for s, _ in await stored(store, uid, a)] == ["stopped"]
