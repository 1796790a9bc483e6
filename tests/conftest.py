"""Fixtures shared by unit tests: a fresh SQLite file per test, the scoped store on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic_ai import models

from varro.db.crud import Store
from varro.db.engine import create_tables, make_engine, make_sessions

# No test may reach a model provider; the demo model and FunctionModels run locally.
models.ALLOW_MODEL_REQUESTS = False


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    await create_tables(engine)
    yield Store(make_sessions(engine))
    await engine.dispose()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests last: sync Playwright keeps an event loop running in this thread for the rest
    of the session, and every asyncio test collected after it would fail with "Cannot run the event loop
    while another loop is running"."""
    items.sort(key=lambda item: "/e2e/" in str(item.fspath))  # stable: each group keeps its own order
