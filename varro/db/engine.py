"""The async engine and session factory; SQLite gets WAL, foreign keys and a busy timeout."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from varro.db.writer import SqliteWriter

T = TypeVar("T")


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
        twin = _thread_twin(engine)
        self._writer = SqliteWriter(twin, self._write_lock) if twin is not None and self._write_lock is not None else None

    def __call__(self) -> AsyncSession:
        return self._maker()

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        async with self._write_lock or contextlib.nullcontext(), self._maker() as session:
            yield session

    async def transact(self, work: Callable[..., T], *args: Any) -> T:
        """Run `work(session, *args)`, plain synchronous SQLAlchemy, as one transaction that writes, and commit it:
        on a SQLite file by the writer thread (varro/db/writer.py: one event-loop hop for a burst of them, where an
        async session makes a few for every statement), elsewhere in an async session (`run_sync`), as `write` does."""
        if self._writer is None:
            async with self.write() as s:
                result = await run_sync(s, work, *args)
                await s.commit()
                return result
        return await self._writer.run(work, *args)


async def run_sync(s: AsyncSession, work: Callable[..., T], *args: Any) -> T:
    """`work(session, *args)` on the async session's synchronous `Session` (SQLModel's, though the stubs of
    `AsyncSession.run_sync` say SQLAlchemy's): code written once for `Sessions.transact` and for async writes."""
    return await s.run_sync(work, *args)


def _thread_twin(engine: AsyncEngine) -> Engine | None:
    """A synchronous engine on the same SQLite file, for its writer thread (None for other databases, or a database
    in memory, which a second engine would not share). One connection, kept: the writer runs one transaction at a
    time, and opening a connection for each (its pragmas too) was a fortieth of a loaded server's CPU."""
    url = engine.url
    if engine.dialect.name != "sqlite" or url.database in (None, "", ":memory:") or "mode=memory" in str(url):
        return None
    twin = create_engine(url.set(drivername="sqlite"), pool_size=1, max_overflow=0)
    event.listen(twin, "connect", _sqlite_pragmas)
    # Whoever disposes of the async engine (the app's shutdown, a test) closes the writer's connection with it.
    event.listen(engine.sync_engine, "engine_disposed", lambda _engine: twin.dispose())
    return twin


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
