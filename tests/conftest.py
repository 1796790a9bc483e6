"""Fixtures shared by unit tests: a fresh database per test (SQLite, then PostgreSQL), the scoped store on it."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pydantic_ai import models

from tests.kernels import TestHost, new_space, shared_sandbox
from tests.services import pg_database
from varro.db.crud import Store
from varro.db.engine import make_engine, make_sessions
from varro.db.migrate import migrate
from varro.kernels.sandbox.plan import Sandbox

# No test may reach a model provider; the demo model and FunctionModels run locally.
models.ALLOW_MODEL_REQUESTS = False


BROWSER_FIXTURES = {"page", "context", "browser"}
_HOST: list[TestHost] = []


def pytest_configure(config: pytest.Config) -> None:
    """Temporary folders outside pytest's own 0700 one (which pytest resets), so the servers a test starts as root
    can serve as their unprivileged web user from there; and one kernel host for the test apps of this process."""
    if config.option.basetemp is None and not hasattr(config, "workerinput"):
        config.option.basetemp = tempfile.mkdtemp(prefix="varro-pytest-")
        config.add_cleanup(lambda: shutil.rmtree(config.option.basetemp, ignore_errors=True))
    host = TestHost(VARRO_KERNEL_IDLE_S=os.environ.get("VARRO_KERNEL_IDLE_S", "600"))
    _HOST.append(host)
    config.add_cleanup(host.stop)
    os.environ.update(VARRO_KERNEL_HOSTS=host.url, VARRO_KERNEL_HOST_TOKEN=host.token,
                      VARRO_KERNEL_SPACE=new_space())


@pytest.fixture(scope="session")
def kernel_host() -> TestHost:
    """The kernel host this test process's apps use (VARRO_KERNEL_HOSTS)."""
    return _HOST[0]


@pytest.fixture(autouse=True, scope="module")
def _module_space() -> Iterator[None]:
    """A module's apps get a space of their own on the shared kernel host ..."""
    os.environ["VARRO_KERNEL_SPACE"] = new_space()
    yield


@pytest.fixture(autouse=True)
def _test_space(monkeypatch: pytest.MonkeyPatch) -> None:
    """... and so does each test's (made after the module's, which keep theirs)."""
    monkeypatch.setenv("VARRO_KERNEL_SPACE", new_space())


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
