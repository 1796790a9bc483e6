"""The async engine and session factory; SQLite gets WAL, foreign keys and a busy timeout."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import event, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel import SQLModel
from sqlmodel.ext.asyncio.session import AsyncSession

from varro.db import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from varro.db.search import create_search_index


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


def make_engine(url: str) -> AsyncEngine:
    engine = create_async_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def make_sessions(engine: AsyncEngine) -> Sessions:
    return Sessions(engine)


# Columns added after the first release: (table, column, DDL type and default). create_all makes new
# tables whole but leaves an existing table as it was.
ADDED_COLUMNS = [("chat", "auto_title", "VARCHAR NOT NULL DEFAULT ''")]


async def add_missing_columns(conn: Any) -> None:
    """Bring an older database's tables up to the models: add each column it lacks."""
    for table, column, ddl in ADDED_COLUMNS:
        have = await conn.run_sync(lambda c, t=table: {col["name"] for col in inspect(c).get_columns(t)})
        if column not in have:
            await conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))


async def create_tables(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
        await add_missing_columns(conn)
        await create_search_index(conn)
