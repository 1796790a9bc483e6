"""The async engine and session factory; SQLite gets WAL, foreign keys and a busy timeout."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession


class Sessions:
    """The session factory: `sessions()` for reads, `async with sessions.write() as s` for a transaction that writes.

    SQLite lets one writer at a time hold its lock, and ours hold it across several event-loop hops (a statement
    each); under load the writers queued in SQLite's busy handler, which is unfair and gives up after the busy
    timeout ("database is locked"). So writers of this process queue here instead, in order, and SQLite's
    timeout is left for other processes. Other databases need no such queue.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        # expire_on_commit=False: reading attributes after commit would otherwise need a greenlet (MissingGreenlet).
        self._maker = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        self._write_lock = asyncio.Lock() if engine.dialect.name == "sqlite" else None

    def __call__(self) -> AsyncSession:
        return self._maker()

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        async with self._write_lock or contextlib.nullcontext(), self._maker() as session:
            yield session


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    # WAL with synchronous=NORMAL is durable against process crashes (kill -9), which is what we face.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


async def _close_once(self: Any) -> None:
    """SQLAlchemy's graceful close of an aiosqlite connection it terminates (see `make_engine`): one request to the
    worker thread to close the connection and end, awaited once."""
    if (done := self._connection.stop()) is not None:
        await done


def make_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(url)
    if engine.dialect.name == "sqlite":
        # A request cancelled while it holds a connection (its client left) has the connection closed by a shielded
        # task of its own (`close()`); when that wait is cancelled SQLAlchemy also stops aiosqlite's worker thread at
        # once. aiosqlite 0.22's close() then waits, in its `finally`, for a second stop that the stopped thread never
        # answers: a task that never ends, and an event loop that never shuts down (tests/unit/test_db_shutdown.py).
        # The shielded close is one stop, awaited once: the thread closes the connection and ends, and a cancel of
        # that one wait always lands.
        AsyncAdapt_aiosqlite_connection._terminate_graceful_close = _close_once  # type: ignore[method-assign]
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def make_sessions(engine: AsyncEngine) -> Sessions:
    return Sessions(engine)
