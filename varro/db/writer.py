"""SQLite's writer thread: write transactions in plain synchronous SQLAlchemy, run in batches off the event loop.

Through the async driver every statement costs the event loop a few hops (a cursor, the statement, its rows, the
commit), and on a loop busy with many streams each hop waits for everything else that is ready: forty turns started
at once queued for half a second behind each other for SQLite's one writer (docs/design.md, 3). Here a transaction
is a function of a synchronous `Session`; what is asked for meanwhile is run as one batch in a worker thread, on a
connection kept for it, each its own transaction in the order asked for: one hop of the loop for the whole batch.
Each batch holds the process's write lock (`Sessions.write`), so the other writers go between batches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlmodel import Session

T = TypeVar("T")
Queued = tuple[Callable[..., Any], tuple[Any, ...], "asyncio.Future[Any]"]


class SqliteWriter:
    def __init__(self, engine: Engine, lock: asyncio.Lock) -> None:
        self.engine = engine  # synchronous, on the same file; one connection (one batch runs at a time)
        self.lock = lock
        self._queued: list[Queued] = []  # asked for, not yet run
        self._drainer: asyncio.Task[None] | None = None

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """`work(session, *args)` as one transaction, committed. Cancelled before its turn, it does not run; cancelled
        while it runs, it runs to its commit or rollback and the write lock is held until then, so the next writer
        never meets a half-done transaction."""
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queued.append((work, args, done))
        if self._drainer is None:
            self._drainer = asyncio.create_task(self._drain())
        return await done

    async def _drain(self) -> None:
        """Run what was queued, a batch at a time, each batch under the write lock."""
        batch: list[Queued] = []
        try:
            while self._queued:
                async with self.lock:
                    batch, self._queued = [q for q in self._queued if not q[2].cancelled()], []
                    ran = asyncio.get_running_loop().run_in_executor(None, commit_each, self.engine, batch)
                    try:
                        outcomes = await asyncio.shield(ran)
                    finally:
                        if not ran.done():
                            await asyncio.wait({ran})
                for (_, _, done), (value, error) in zip(batch, outcomes, strict=True):
                    if done.done():
                        continue
                    if error is None:
                        done.set_result(value)
                    else:
                        done.set_exception(error)
                batch = []
        except BaseException as exc:  # nobody must wait for ever: what was not answered fails
            stopped = RuntimeError("the database writer stopped") if isinstance(exc, asyncio.CancelledError) else exc
            for _, _, done in batch + self._queued:
                if not done.done():
                    done.set_exception(stopped)
            self._queued = []
            raise
        finally:
            self._drainer = None


def commit_each(engine: Engine, batch: list[Queued]) -> list[tuple[Any, BaseException | None]]:
    """Each transaction of `batch` in turn: (its result, None) or (None, what it raised, rolled back)."""
    outcomes: list[tuple[Any, BaseException | None]] = []
    for work, args, _ in batch:
        try:
            with Session(engine, expire_on_commit=False) as s:
                result = work(s, *args)
                s.commit()
            outcomes.append((result, None))
        except Exception as exc:
            outcomes.append((None, exc))
    return outcomes
