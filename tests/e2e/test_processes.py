"""Two server processes on two ports sharing PostgreSQL and Redis act as one app, as two machines behind a load
balancer without sticky routing would: one live session per user across both, and a dead process costs nothing
but its own connections."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.engine import make_url

from tests.e2e.conftest import WS_FLAG, wait_socket
from tests.e2e.helpers import send, wait_idle, wait_turn_done
from tests.e2e.server import ROOT, Server, run_server
from tests.security.client import Tab
from tests.services import pg_database_sync, redis_prefix_sync
from varro.agent.demo_pacing import Gates


@pytest.fixture
def shared_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    """What both processes share: the database, Redis (a prefix of the test's own), the cookie key, and the folder
    of the demo model's gates (`/stream N until GATE` answers run until the test opens GATE: `Gates`)."""
    with pg_database_sync() as url, redis_prefix_sync() as prefix:
        yield {"VARRO_DATABASE_URL": url, "VARRO_REDIS_URL": "redis://127.0.0.1:6379/0", "VARRO_REDIS_PREFIX": prefix,
               "VARRO_SECRET_KEY": secrets.token_hex(16), "VARRO_LEASE_TTL_S": "3", "VARRO_DEMO_TPS": "100",
               "VARRO_DEMO_GATES": str(tmp_path / "gates")}


def test_a_tab_on_another_process_replaces_the_first_follows_its_answer_and_a_dead_process_costs_nothing(
        browser: Browser, tmp_path: Path, shared_env: dict[str, str]) -> None:
    with run_server(tmp_path / "a", **shared_env) as a, run_server(tmp_path / "b", **shared_env) as b:
        context = browser.new_context()
        context.add_init_script(WS_FLAG)
        tab1 = context.new_page()
        tab1.goto(f"{a.url}/chat")
        tab1.get_by_test_id("new-chat").click()
        tab1.wait_for_load_state()
        wait_socket(tab1)
        path = tab1.url.removeprefix(a.url)
        tab2 = context.new_page()
        tab2.goto(f"{b.url}{path}")  # the same user (one cookie: the host, not the port, owns it), another process
        wait_socket(tab2)
        expect(tab1.locator("#chat-notices")).to_contain_text("open in another tab")
        send(tab2, "/stream 100 at 100 until never")  # held open: only Stop ends it
        streaming(tab2, 0)
        assert tab1.locator("#turn-0").count() == 0, "nothing streams to the replaced tab"
        # Back to A mid-answer: the answer goes on on B; A catches up on it from Redis, follows it, and stops it.
        tab1.reload()
        wait_socket(tab1)
        expect(tab2.locator("#chat-notices")).to_contain_text("open in another tab")
        caught = len(tab1.locator("#assistant-0").inner_text())
        assert caught > 50, "the answer so far, caught up from B's stream"
        tab1.wait_for_function(f"() => document.querySelector('#assistant-0').innerText.length > {caught + 20}")
        tab1.get_by_test_id("stop").click()
        expect(tab1.get_by_test_id("stopped-0")).to_be_visible()
        wait_idle(tab1)
        # B again, and B dies mid-answer: the turn is stored as stopped with what B had streamed, and A goes on.
        tab2.reload()
        wait_socket(tab2)
        expect(tab2.get_by_test_id("stopped-0")).to_be_visible()
        send(tab2, "/stream 100 at 100 until never")  # running when B is killed, however slow the machine
        streaming(tab2, 1)
        kill(b)
        tab1.reload()
        wait_socket(tab1)
        expect(tab1.get_by_test_id("cut-off-1")).to_be_visible(timeout=15_000)
        assert len(tab1.locator("#assistant-1").inner_text()) > 50, "what B streamed before it died is kept"
        send(tab1, "Still here?")
        wait_turn_done(tab1, 2, timeout=20_000)
        expect(tab1.locator("#assistant-2 .assistant-text").last).to_be_visible()
        tab1.reload()  # stored: the stopped turn and the next one come back from the database
        expect(tab1.get_by_test_id("cut-off-1")).to_be_visible()
        expect(tab1.locator("#meta-2[data-status=complete]")).to_have_count(1)
        context.close()


def streaming(page: Page, k: int) -> None:
    page.wait_for_function(f"() => (document.querySelector('#assistant-{k}')?.innerText.length ?? 0) > 50")


def kill(server: Server) -> None:
    server.process.kill()
    server.process.wait(timeout=10)


@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_the_load_run_across_processes_loses_nothing_and_keeps_one_session_per_user() -> None:
    """`python -m bench.processes --smoke`: it fails itself on a lost or doubled turn, or two sessions at once."""
    done = subprocess.run([sys.executable, "-m", "bench.processes", "--smoke"], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "(a turn lost, twice, or not complete): 0 of 6" in done.stdout
    assert "within one turn: 0; frames sent without the lease: 0" in done.stdout


def test_starting_more_workers_leaves_the_answers_other_processes_are_writing_running(
        tmp_path: Path, shared_env: dict[str, str]) -> None:
    """`python -m app --workers 2` joining a running app (another host, say) must not mark its running turns
    stopped: they are being written, and are stored complete when they end."""
    gates, env = Gates(Path(shared_env["VARRO_DEMO_GATES"])), shared_env
    with run_server(tmp_path / "a", **env) as a:
        tab = Tab(a.url, "")

        async def start_answer() -> None:
            await tab.sign_in()
            await tab.open()
            await tab.send("/stream 5 until held")
            while "assistant-0" not in "".join(tab.frames):
                await tab.recv(30)

        asyncio.run(start_answer())
        with run_server(tmp_path / "workers", args=("--workers", "2"), **env):
            assert statuses(env, tab.chat_id) == ["running"], "another process is still writing this answer"
        gates.open("held")

        async def answer_ends() -> str:
            tab.frames, tab.ws = [], None
            await tab.open(known=0)
            status = await tab.wait_turn(0)
            await tab.close()
            return status

        assert asyncio.run(answer_ends()) == "complete"
        assert statuses(env, tab.chat_id) == ["complete"]


def statuses(env: dict[str, str], chat_id: int) -> list[str]:
    """The chat's turns' stored statuses, read from the shared database."""
    async def read() -> list[str]:
        url = make_url(env["VARRO_DATABASE_URL"])
        conn = await asyncpg.connect(host=url.host, port=url.port, user=url.username, database=url.database)
        try:
            rows = await conn.fetch("SELECT status FROM turn WHERE chat_id = $1 ORDER BY idx", chat_id)
            return [r["status"] for r in rows]
        finally:
            await conn.close()

    return asyncio.run(read())
