"""PostgreSQL or Redis going away while the app runs: the page says the service is unavailable, and once it is
back everything stored before is there. Neither shared service is stopped: the database of the test's own stops
taking connections, and Redis is a server of the test's own."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from app.unavailable import MESSAGE
from tests.e2e.server import free_port
from tests.services import PG_ADMIN_URL, pg_database
from tests.unit.test_routes import BROWSER, ORIGIN, host_app, new_chat
from varro.scale.coordinator import Unavailable


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with pg_database() as url:
        yield url


def allow_connections(url: str, allow: bool) -> None:
    """Let the test's database take connections or not; refusing also ends the ones it has (the app's pool)."""
    async def run() -> None:
        admin = make_url(PG_ADMIN_URL)
        conn = await asyncpg.connect(host=admin.host, port=admin.port or 5432, user=admin.username,
                                     database=admin.database)
        name = make_url(url).database
        await conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allow).lower()}')
        if not allow:
            await conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        await conn.close()

    asyncio.run(run())


def test_postgres_going_away_shows_unavailable_and_loses_nothing(tmp_path: Path, pg_url: str) -> None:
    with TestClient(host_app(tmp_path, database_url=pg_url), headers=BROWSER) as client:
        client.get("/login/alice")
        chat = new_chat(client)
        client.post(f"/chat/{chat}/rename", data={"title": "Kept through it"})
        allow_connections(pg_url, False)
        try:
            page = client.get(f"/chat/{chat}")
            assert page.status_code == 503 and MESSAGE in page.text
        finally:
            allow_connections(pg_url, True)
        page = client.get(f"/chat/{chat}")
        assert page.status_code == 200 and "Kept through it" in page.text


@contextlib.contextmanager
def own_redis(port: int) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout.strip() != b"PONG":
            assert time.monotonic() < deadline, "the test's own redis-server did not start"
            time.sleep(0.05)
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def first_frame(client: TestClient, chat: int) -> str:
    with client.websocket_connect(f"/chat/ws?chat_id={chat}", headers=ORIGIN) as ws:
        ws.send_text('{"action": "probe"}')  # answered "unknown action" by a socket that has its session
        return ws.receive_text()


def test_redis_going_away_shows_unavailable_and_loses_nothing(tmp_path: Path) -> None:
    port = free_port()
    with own_redis(port) as redis:
        app = host_app(tmp_path, redis_url=f"redis://127.0.0.1:{port}/0", lease_ttl_s=1.0)
        with TestClient(app, headers=BROWSER) as client:
            client.get("/login/alice")
            chat = new_chat(client)
            assert MESSAGE not in first_frame(client, chat)
            redis.terminate()
            redis.wait(timeout=10)
            assert MESSAGE in first_frame(client, chat)
            with own_redis(port):
                assert MESSAGE not in first_frame(client, chat)
                assert client.get(f"/chat/{chat}").status_code == 200


def test_a_process_does_not_start_without_its_redis(tmp_path: Path) -> None:
    app = host_app(tmp_path, redis_url=f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(Unavailable, match="Redis is unreachable at start-up"), TestClient(app):
        pass
