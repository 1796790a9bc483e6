"""`Sessions.transact`: a writing transaction in one hop of the event loop on a SQLite file, in order with the others.

A burst of turns starting at once queued for a second behind each other when every statement of every turn's start
waited for a busy loop to come round (docs/benchmarks.md); on a SQLite file the whole transaction now runs in a
worker thread, the loop free meanwhile.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlmodel import Session, col, select, update

from varro.db.crud import Store
from varro.db.engine import make_engine, make_sessions
from varro.db.migrate import migrate
from varro.db.models import Chat

WAIT_S = 30  # a bound on a wait that should end at once, never a measure of anything


@pytest.fixture
async def on_file(tmp_path: Path) -> AsyncIterator[Store]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await migrate(engine)
    yield Store(make_sessions(engine))
    await engine.dispose()


async def test_a_transaction_on_a_sqlite_file_leaves_the_event_loop_free(on_file: Store) -> None:
    """The transaction waits for a coroutine on the loop to let it go on: run on the loop, it could never end."""
    user = await on_file.users.ensure("u")
    chat = await on_file.chats.for_user(user.id).create()
    let_go = threading.Event()

    def rename(s: Session) -> str:
        s.exec(update(Chat).where(col(Chat.id) == chat.id).values(title="renamed"))
        if not let_go.wait(WAIT_S):
            raise TimeoutError("the event loop was not free while the transaction ran")
        return s.exec(select(Chat.title).where(col(Chat.id) == chat.id)).one()

    async def release() -> None:
        await asyncio.sleep(0)
        let_go.set()

    title, _ = await asyncio.gather(on_file.sessions.transact(rename), release())
    assert title == "renamed"
    assert (await on_file.chats.for_user(user.id).get(chat.id)).title == "renamed", "committed"


async def test_a_cancelled_transaction_holds_the_write_lock_until_its_thread_is_done(on_file: Store) -> None:
    """Cancelled mid-transaction, the caller's wait ends, but the next writer starts only after the thread has
    finished: never beside a half-done transaction (SQLite's own lock would make it wait, or fail)."""
    user = await on_file.users.ensure("u")
    chat = await on_file.chats.for_user(user.id).create()
    inside, let_go, order = threading.Event(), threading.Event(), []

    def slow(s: Session) -> None:
        s.exec(update(Chat).where(col(Chat.id) == chat.id).values(title="first"))
        inside.set()
        let_go.wait(WAIT_S)
        order.append("first done")

    def second(s: Session) -> None:
        order.append("second starts")
        s.exec(update(Chat).where(col(Chat.id) == chat.id).values(title="second"))

    first = asyncio.create_task(on_file.sessions.transact(slow))
    assert await asyncio.to_thread(inside.wait, WAIT_S)
    first.cancel()
    following = asyncio.create_task(on_file.sessions.transact(second))
    await asyncio.sleep(0.05)  # room for `following` to start, were the lock let go at the cancel
    assert order == []
    let_go.set()
    await asyncio.wait_for(following, WAIT_S)
    with pytest.raises(asyncio.CancelledError):
        await first
    assert order == ["first done", "second starts"]
    assert (await on_file.chats.for_user(user.id).get(chat.id)).title == "second"


async def test_a_failed_transaction_writes_nothing(store: Store) -> None:
    """On either database: an exception in the work rolls the whole transaction back and reaches the caller."""
    user = await store.users.ensure("u")
    chat = await store.chats.for_user(user.id).create()

    def half(s: Session) -> None:
        s.exec(update(Chat).where(col(Chat.id) == chat.id).values(title="half"))
        raise ValueError("refused")

    with pytest.raises(ValueError, match="refused"):
        await store.sessions.transact(half)
    assert (await store.chats.for_user(user.id).get(chat.id)).title != "half"


async def test_transactions_asked_for_meanwhile_run_in_order_each_on_its_own(on_file: Store) -> None:
    """Asked for while another runs, they run after it in the order asked: one that fails writes nothing and tells
    its caller, the others are committed; one cancelled before its turn does not run."""
    user = await on_file.users.ensure("u")
    chats = on_file.chats.for_user(user.id)
    ids = [(await chats.create()).id for _ in range(4)]
    inside, let_go, ran = threading.Event(), threading.Event(), []

    def name(s: Session, chat_id: int, title: str, fail: bool = False) -> str:
        ran.append(title)
        if title == "first":
            inside.set()
            let_go.wait(WAIT_S)
        s.exec(update(Chat).where(col(Chat.id) == chat_id).values(title=title))
        if fail:
            raise ValueError(title)
        return title

    first = asyncio.create_task(on_file.sessions.transact(name, ids[0], "first"))
    assert await asyncio.to_thread(inside.wait, WAIT_S)
    later = [asyncio.create_task(on_file.sessions.transact(name, ids[1], "second")),
             asyncio.create_task(on_file.sessions.transact(name, ids[2], "third", True)),
             asyncio.create_task(on_file.sessions.transact(name, ids[3], "fourth"))]
    dropped = asyncio.create_task(on_file.sessions.transact(name, ids[3], "dropped"))
    await asyncio.sleep(0)
    dropped.cancel()
    let_go.set()
    results = await asyncio.wait_for(asyncio.gather(first, *later, return_exceptions=True), WAIT_S)
    assert results[:2] == ["first", "second"] and isinstance(results[2], ValueError) and results[3] == "fourth"
    assert ran == ["first", "second", "third", "fourth"]
    titles = [(await chats.get(i)).title for i in ids]
    assert titles[:2] == ["first", "second"] and titles[2] != "third" and titles[3] == "fourth"


async def test_disposing_of_the_engine_closes_the_writers_connection(tmp_path: Path) -> None:
    """The writer's kept connection goes with the engine: a shut-down app leaves no database file open."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    await migrate(engine)
    store = Store(make_sessions(engine))
    user = await store.users.ensure("u")
    chat = await store.chats.for_user(user.id).create()
    await store.chats.for_user(user.id).retitle_if_auto(chat.id, "named")  # by the writer: its connection opens
    writer = store.sessions._writer
    assert writer is not None
    closed: list[object] = []
    event.listen(writer.engine, "close", lambda conn, _record: closed.append(conn))
    await engine.dispose()
    assert len(closed) == 1
