"""Fixtures shared by unit tests: a fresh database per test (SQLite, then PostgreSQL), the scoped store on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic_ai import models

from tests.kernels import shared_sandbox
from tests.services import pg_database
from varro.db.crud import Store
from varro.db.engine import make_engine, make_sessions
from varro.db.migrate import migrate
from varro.shell.sandbox import Sandbox

# No test may reach a model provider; the demo model and FunctionModels run locally.
models.ALLOW_MODEL_REQUESTS = False


BROWSER_FIXTURES = {"page", "context", "browser"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark browser tests `e2e`: they run in their own pytest process (see the Makefile), because
    Playwright's sync API keeps an event loop running that later asyncio tests would trip over.
    In a single run (`pytest tests`) they go last for the same reason."""
    for item in items:
        if BROWSER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)  # stable: order otherwise kept


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of the test's own: an SQLite file, and (a second run of the test) a PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    async with pg_database() as url:
        yield url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    engine = make_engine(database_url)
    await migrate(engine)
    yield Store(make_sessions(engine))
    await engine.dispose()


@pytest.fixture(scope="session")
def sandbox() -> Sandbox:
    return shared_sandbox()
