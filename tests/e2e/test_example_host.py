"""The example host (`examples/assistant.py`) in Chromium: the chat at /assistant with the host's own tool.

Pages, the socket, static files, uploads and exports all live under the host's prefix; the host's tool is
called; its audit hook sees each stored turn."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import wait_socket
from tests.e2e.helpers import chat_id_of, send, wait_turn_done
from tests.e2e.server import Server, process_uid, run_server


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("host")
    with run_server(data, module="examples.assistant", ready="/assistant/static/js/chat.js",
                    VARRO_DEMO_TPS="2000") as srv:
        yield srv


def test_the_host_mounts_the_chat_at_its_own_prefix_with_its_own_tool(page: Page, host: Server) -> None:
    static: list[str] = []
    page.on("response", lambda r: static.append(r.url) if "/static/" in r.url and r.ok else None)
    page.goto(f"{host.url}/")
    page.get_by_test_id("open-assistant").click()
    expect(page).to_have_url(f"{host.url}/assistant/{chat_id_of(page)}")
    wait_socket(page)  # htmx, its ws extension and Alpine came from /assistant/static, and the socket opened
    assert static and all("/assistant/static/" in url for url in static)

    send(page, "Please ask forecast for Oslo")
    wait_turn_done(page, 0)
    turn = page.locator("#assistant-0")
    expect(turn.locator(".tool-call")).to_contain_text("forecast")
    expect(turn.locator(".tool-result")).to_contain_text("Tomorrow in Oslo: sunny, 21 °C")

    send(page, "plot a histogram of the weather")
    wait_turn_done(page, 1)
    figure = page.locator("#assistant-1 .tool-result img")
    expect(figure).to_have_count(1)
    assert figure.get_attribute("src").startswith("/assistant/uploads/")
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=figure.element_handle())

    page.reload()
    wait_socket(page)
    expect(page.locator("#assistant-0 .tool-result")).to_contain_text("Tomorrow in Oslo")
    chat = chat_id_of(page)
    markdown = page.request.get(f"{host.url}/assistant/{chat}/export.md")
    assert markdown.ok and "Tomorrow in Oslo" in markdown.text()
    notebook = page.request.get(f"{host.url}/assistant/{chat}/export.ipynb")
    assert notebook.ok and json.loads(notebook.text())["cells"]
    assert page.request.get(f"{host.url}/chat").status == 404
    assert f"chat {chat} turn 0: complete" in host.output(), "the host's audit hook saw the stored turn"
    # The plot above ran in a sandboxed kernel while the host app itself served as its unprivileged user.
    assert process_uid(host.process.pid) != 0
