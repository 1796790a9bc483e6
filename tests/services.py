"""PostgreSQL and Redis for tests: a database (or a key prefix) of the test's own, made and removed by a fixture.

Either service down is a failure with one line naming it, never a skip: `make test` runs where both are up
(`VARRO_TEST_POSTGRES_URL`, `VARRO_TEST_REDIS_URL` point elsewhere).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator

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


@contextlib.asynccontextmanager
async def pg_database() -> AsyncIterator[str]:
    """A new empty database for one test (or module), dropped afterwards; yields its SQLAlchemy URL."""
    name = f"varro_test_{uuid.uuid4().hex[:12]}"
    admin = await _admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


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
        async for key in client.scan_iter(match=prefix + "*"):
            await client.delete(key)
        await client.aclose()
