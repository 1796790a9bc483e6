"""Many writers at once on a busy event loop: every write lands, none meets "database is locked".

Found by the load test: 200 first turns at once each rename their chat and store their turn; a writer holds
SQLite's lock across several event-loop hops, so on a loaded loop the queue behind it outgrew the busy
timeout and a rename failed (taking its turn with it). Here the loop is made slow on purpose and the busy
timeout short, so the same queue forms in a second.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from varro.db.crud import Store
from varro.db.engine import make_engine, make_sessions
from varro.db.migrate import migrate

WRITERS = 40


def short_busy_timeout(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA busy_timeout=200")
    cur.close()


@pytest.fixture
async def hasty_store(tmp_path: Path) -> AsyncIterator[Store]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'busy.db'}")
    event.listen(engine.sync_engine, "connect", short_busy_timeout)  # after the engine's own pragmas
    await migrate(engine)
    yield Store(make_sessions(engine))
    await engine.dispose()


async def hog(stop: asyncio.Event) -> None:
    """Block the loop 8 ms of every 10, as a busy server's loop is."""
    while not stop.is_set():
        time.sleep(0.008)  # noqa: ASYNC251  (blocking on purpose: that is the load)
        await asyncio.sleep(0.002)


async def test_concurrent_writes_on_a_slow_loop_all_land(hasty_store: Store) -> None:
    users = [await hasty_store.users.ensure(f"w{i}") for i in range(WRITERS)]
    chats = [await hasty_store.chats.for_user(u.id).create() for u in users]

    async def first_turn(user_id: int, chat_id: int) -> None:
        mine = hasty_store.chats.for_user(user_id)
        await mine.rename(chat_id, "a title")
        await (await mine.turns(chat_id)).append(0, "hello", {"v": 1})
        await mine.rename(chat_id, "a better title")

    stop = asyncio.Event()
    slow = asyncio.create_task(hog(stop))
    try:
        await asyncio.gather(*(first_turn(u.id, c.id) for u, c in zip(users, chats, strict=True)))
    finally:
        stop.set()
        await slow
    for user, chat in zip(users, chats, strict=True):
        mine = hasty_store.chats.for_user(user.id)
        assert (await mine.get(chat.id)).title == "a better title"
        assert [t.idx for t in await (await mine.turns(chat.id)).list()] == [0]
