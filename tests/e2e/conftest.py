"""End-to-end fixtures: the real server in a subprocess, real Chromium through pytest-playwright."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.e2e.server import Server, run_server

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

# Set on htmx's wsOpen so tests can wait for the socket instead of sleeping.
WS_FLAG = "document.addEventListener('htmx:wsOpen', () => { window.__wsOpen = (window.__wsOpen || 0) + 1; });"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium where it is installed (Playwright cannot download its own here)."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    args = {**browser_type_launch_args, "args": CHROMIUM_ARGS}
    return {**args, "executable_path": exe} if exe else args


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # A module's tests share this server and its demo user, and an answer outlives its page: one test's answer may
    # still be finishing when the next one sends. The cap of runs per user has its own test and server.
    # `/stream N until GATE` answers are held open until a test creates GATE in `srv.data / "gates"`.
    data = tmp_path_factory.mktemp("varro")
    (data / "gates").mkdir()
    with run_server(data, VARRO_MAX_RUNS_PER_USER="4", VARRO_DEMO_GATES=str(data / "gates")) as srv:
        yield srv


@pytest.fixture
def page(page: Page) -> Page:
    page.add_init_script(WS_FLAG)
    page.set_default_timeout(15_000)
    return page


@pytest.fixture
def new_chat(page: Page, server: Server) -> Page:
    """A page on a fresh, empty chat with its socket open."""
    page.goto(f"{server.url}/chat")
    page.get_by_test_id("new-chat").click()
    page.wait_for_load_state()
    wait_socket(page)
    return page


def wait_socket(page: Page) -> None:
    page.wait_for_function("() => window.__wsOpen >= 1")


def data_dir(server: Server) -> Path:
    return server.data
