"""PostgreSQL and Redis for tests: a database (or a key prefix) of the test's own, made and removed by a fixture.

Either service down is a failure with one line naming it, never a skip: `make test` runs where both are up
(`VARRO_TEST_POSTGRES_URL`, `VARRO_TEST_REDIS_URL` point elsewhere).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis
from sqlalchemy.engine import make_url

PG_ADMIN_URL = os.environ.get("VARRO_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("VARRO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def _admin() -> asyncpg.Connection:
    url = make_url(PG_ADMIN_URL)
    try:
        return await asyncpg.connect(host=url.host, port=url.port or 5432, user=url.username,
                                     password=url.password, database=url.database, timeout=5)
    except (OSError, asyncpg.PostgresError) as e:
        pytest.fail(f"PostgreSQL is down at {url.host}:{url.port or 5432} ({e}): start it, tests need it",
                    pytrace=False)


async def _admin_execute(sql: str) -> None:
    admin = await _admin()
    try:
        await admin.execute(sql)
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def pg_database() -> AsyncIterator[str]:
    """A new empty database for one test (or module), dropped afterwards; yields its SQLAlchemy URL."""
    name = f"varro_test_{uuid.uuid4().hex[:12]}"
    await _admin_execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await _admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _in_thread(coro: Coroutine[Any, Any, None]) -> None:
    """Run `coro` in a loop of its own: the caller's thread may have one running already (Playwright's)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, coro).result()


@contextlib.contextmanager
def pg_database_sync() -> Iterator[str]:
    """`pg_database` for a test without an event loop of its own (one that drives servers and a browser)."""
    name = f"varro_test_{uuid.uuid4().hex[:12]}"
    _in_thread(_admin_execute(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        _in_thread(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def redis_prefix_sync() -> Iterator[str]:
    """A key prefix of the test's own on the shared Redis (checked to be up); its keys are deleted afterwards."""
    async def check() -> None:
        async with redis_prefix():
            pass

    _in_thread(check())
    prefix = f"varro-test-{uuid.uuid4().hex[:12]}:"
    try:
        yield prefix
    finally:
        _in_thread(_delete_prefix(Redis.from_url(REDIS_URL), prefix))


@contextlib.asynccontextmanager
async def redis_prefix() -> AsyncIterator[tuple[Redis, str]]:
    """A client and a key prefix of the test's own; every key under it is deleted afterwards."""
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except OSError as e:
        await client.aclose()
        pytest.fail(f"Redis is down at {REDIS_URL} ({e}): start it, tests need it", pytrace=False)
    prefix = f"varro-test-{uuid.uuid4().hex[:12]}:"
    try:
        yield client, prefix
    finally:
        await _delete_prefix(client, prefix)


async def _delete_prefix(client: Redis, prefix: str) -> None:
    async for key in client.scan_iter(match=prefix + "*"):
        await client.delete(key)
    await client.aclose()
