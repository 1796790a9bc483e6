"""Two server processes on two ports sharing PostgreSQL and Redis act as one app, as two machines behind a load
balancer without sticky routing would: one live session per user across both, and a dead process costs nothing
but its own connections."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import WS_FLAG, wait_socket
from tests.e2e.helpers import send, wait_idle, wait_turn_done
from tests.e2e.server import ROOT, Server, run_server
from tests.services import pg_database_sync, redis_prefix_sync


@pytest.fixture
def shared_env() -> Iterator[dict[str, str]]:
    """What both processes share: the database, Redis (a prefix of the test's own) and the cookie key."""
    with pg_database_sync() as url, redis_prefix_sync() as prefix:
        yield {"VARRO_DATABASE_URL": url, "VARRO_REDIS_URL": "redis://127.0.0.1:6379/0", "VARRO_REDIS_PREFIX": prefix,
               "VARRO_SECRET_KEY": secrets.token_hex(16), "VARRO_LEASE_TTL_S": "3", "VARRO_DEMO_TPS": "100"}


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
        send(tab2, "/stream 3000 at 100")
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
        send(tab2, "/stream 3000 at 100")
        streaming(tab2, 1)
        kill(b)
        tab1.reload()
        wait_socket(tab1)
        expect(tab1.get_by_test_id("stopped-1")).to_be_visible(timeout=15_000)
        assert len(tab1.locator("#assistant-1").inner_text()) > 50, "what B streamed before it died is kept"
        send(tab1, "Still here?")
        wait_turn_done(tab1, 2, timeout=20_000)
        expect(tab1.locator("#assistant-2 .assistant-text").last).to_be_visible()
        tab1.reload()  # stored: the stopped turn and the next one come back from the database
        expect(tab1.get_by_test_id("stopped-1")).to_be_visible()
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
