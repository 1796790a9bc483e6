"""Two kernel hosts (own ports, own disks, as two machines would have) and two web processes (own ports,
unprivileged) on PostgreSQL + Redis act as one app, and losing the kernel host of a chat loses nothing of it."""

from __future__ import annotations

import os
import secrets
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import WS_FLAG, wait_socket
from tests.e2e.helpers import py, send, wait_turn_done
from tests.e2e.server import Server, process_uid, run_server
from tests.e2e.test_files import DROP
from tests.kernels import TestHost
from tests.services import pg_database_sync, redis_prefix_sync


@pytest.fixture
def two_hosts() -> Iterator[tuple[TestHost, TestHost, str]]:
    """Two kernel hosts of one pool (one token, one store in PostgreSQL, a disk each), and the database both web
    processes use."""
    with pg_database_sync() as store_url, pg_database_sync() as db_url:
        token = secrets.token_urlsafe(32)
        first = TestHost(token, VARRO_KERNEL_STORE=store_url, VARRO_KERNEL_POOL="0")
        second = TestHost(token, VARRO_KERNEL_STORE=store_url, VARRO_KERNEL_POOL="0")
        try:
            yield first, second, db_url
        finally:
            first.stop()
            second.stop()


def result_of(page: Page, k: int) -> str:
    return "\n".join(page.locator(f"#assistant-{k} .tool-result").last.locator("pre").all_inner_texts())


def open_chat(page: Page, server: Server, path: str | None = None) -> str:
    if path is None:
        page.goto(f"{server.url}/chat")
        page.get_by_test_id("new-chat").click()
        page.wait_for_load_state()
    else:
        page.goto(f"{server.url}{path}")
    wait_socket(page)
    return page.url.removeprefix(server.url)


def test_two_hosts_and_two_web_processes_act_as_one_and_a_lost_host_loses_no_chat(
        browser: Browser, tmp_path: Path, two_hosts: tuple[TestHost, TestHost, str]) -> None:
    first, second, db_url = two_hosts
    with redis_prefix_sync() as prefix:
        env = {"VARRO_DATABASE_URL": db_url, "VARRO_REDIS_URL": "redis://127.0.0.1:6379/0",
               "VARRO_REDIS_PREFIX": prefix, "VARRO_SECRET_KEY": secrets.token_hex(16),
               "VARRO_KERNEL_HOSTS": f"{first.url},{second.url}", "VARRO_KERNEL_HOST_TOKEN": first.token,
               "VARRO_KERNEL_SPACE": "twohosts"}
        with run_server(tmp_path / "a", **env) as a, run_server(tmp_path / "b", **env) as b:
            assert process_uid(a.process.pid) != 0 and process_uid(b.process.pid) != 0, "the web tier is never root"
            context = browser.new_context()
            context.add_init_script(WS_FLAG)
            page = context.new_page()
            path = open_chat(page, a)
            send(page, py("import random\nr = random.random()\nopen('data.txt', 'w').write('kept')\nprint(r)"))
            wait_turn_done(page, 0)
            r = result_of(page, 0).strip().splitlines()[-1]
            # The same chat through the other web process: its kernel, its variables, its files.
            open_chat(page, b, path)
            send(page, py("print(r)\nprint(open('data.txt').read())"))
            wait_turn_done(page, 1)
            assert result_of(page, 1).strip().splitlines()[-2:] == [r, "kept"]
            page.evaluate(DROP, ["up.csv", "a,b\n1,2\n"])
            expect(page.get_by_test_id("file-chip")).to_contain_text("up.csv")
            # ... uploaded through B, downloaded through A.
            response = page.request.get(f"{a.url}/chat/{path.rsplit('/', 1)[1]}/files/up.csv")
            assert response.ok and response.body() == b"a,b\n1,2\n"
            # The chat's host dies (kill -9): the next cell runs on the other host, with its variables and files.
            victim = first if _kernels_on(first) else second
            os.kill(victim.local.process.pid, signal.SIGKILL)
            send(page, py("print(r)\nprint(open('data.txt').read())\nprint(open('up.csv').read().splitlines()[1])"))
            wait_turn_done(page, 2, timeout=120_000)
            assert result_of(page, 2).strip().splitlines()[-3:] == [r, "kept", "1,2"]
            expect(page.locator("#chat-turns")).to_contain_text("moved to another host")
            # Nothing stored was lost: every turn is there after a reload, through either process.
            open_chat(page, a, path)
            for k in range(3):
                expect(page.locator(f"#assistant-{k}")).to_be_visible()


def _kernels_on(host: TestHost) -> int:
    import httpx

    return int(httpx.get(f"{host.url}/varro/health", headers={"Authorization": f"token {host.token}"}).json()["kernels"])
