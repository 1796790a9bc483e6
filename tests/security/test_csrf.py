"""Cross-site request forgery from a same-site origin, against the real server.

A page on another port of the same host is same-site: the browser sends it our session cookie (SameSite=Lax
lets it through), so the cookie alone must not be enough to rename or delete a chat. Before app/csrf.py both
went through (the red team renamed one chat and deleted another). Also: a token planted before a sign-in
(session fixation) is worthless after it, and the standalone app's cookie is `__Host-` over HTTPS.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Page
from starlette.testclient import TestClient

from app.main import create_app
from tests.e2e.server import Server, free_port
from tests.security.client import Tab
from tests.security.conftest import host_server
from varro.config import Settings

HX_HEADERS = re.compile(r"""hx-headers=(?:"([^"]+)"|'([^']+)')""")


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with host_server(tmp_path_factory.mktemp("csrf")) as srv:
        yield srv


def page_token(http: httpx.Client, base: str, chat_id: int) -> str:
    """The token the chat page hands htmx (`hx-headers`)."""
    found = HX_HEADERS.search(http.get(f"{base}/chat/{chat_id}").text)
    assert found is not None
    return json.loads(html.unescape(found[1] or found[2]))["X-CSRF-Token"]


def victim(host: Server, name: str) -> tuple[httpx.Client, list[int]]:
    """A signed-in user with two chats; a client carrying their cookie and no other header of its own."""
    tabs = [Tab(host.url, name) for _ in range(2)]
    for tab in tabs:
        asyncio.run(tab.sign_in())
    cookies = dict(c.split("=", 1) for c in tabs[-1].cookies.split("; "))
    return httpx.Client(trust_env=False, timeout=30, cookies=cookies), [t.chat_id for t in tabs]


def titles(http: httpx.Client, base: str, chat_ids: list[int]) -> dict[int, int]:
    """Each chat's page status (404 once deleted)."""
    return {c: http.get(f"{base}/chat/{c}").status_code for c in chat_ids}


def test_a_page_on_another_port_can_neither_rename_nor_delete(host: Server) -> None:
    http, (first, second) = victim(host, "alice")
    other = f"http://127.0.0.1:{urlsplit(host.url).port + 1}"  # the attacker's page, same host, another port
    forged = [
        {"Origin": other, "Sec-Fetch-Site": "same-site"},  # what Chromium sends for that page's form or fetch
        {"Origin": "null"},  # a sandboxed frame
        {"Sec-Fetch-Site": "same-site"},  # no Origin at all
        {},  # neither header, and no token
        {"X-CSRF-Token": "guessed"},
    ]
    for headers in forged:
        rename = http.post(f"{host.url}/chat/{first}/rename", data={"title": "pwned"}, headers=headers)
        delete = http.post(f"{host.url}/chat/{second}/delete", headers=headers)
        upload = http.post(f"{host.url}/chat/{first}/files", params={"name": "planted.py"}, content=b"x = 1",
                           headers=headers)
        assert (rename.status_code, delete.status_code, upload.status_code) == (403, 403, 403), headers
    assert "pwned" not in http.get(f"{host.url}/chat/{first}").text
    assert "planted.py" not in http.get(f"{host.url}/chat/{first}/files").text
    assert titles(http, host.url, [first, second]) == {first: 200, second: 200}
    # The chat's own page still works: by its Origin, by Sec-Fetch-Site, or (neither sent) by its token.
    token = page_token(http, host.url, first)
    for n, headers in enumerate([{"Origin": host.url}, {"Sec-Fetch-Site": "same-origin"}, {"X-CSRF-Token": token}]):
        resp = http.post(f"{host.url}/chat/{first}/rename", data={"title": f"Renamed {n}"}, headers=headers)
        assert resp.status_code == 200 and f"Renamed {n}" in resp.text, headers
    ok = http.post(f"{host.url}/chat/{first}/files", params={"name": "mine.py"}, content=b"x = 1",
                   headers={"Origin": host.url})
    assert ok.status_code == 200 and "mine.py" in http.get(f"{host.url}/chat/{first}/files").text
    resp = http.post(f"{host.url}/chat/{second}/delete", data={"csrf": token}, follow_redirects=False)
    assert resp.status_code == 303 and titles(http, host.url, [second]) == {second: 404}


def test_a_token_planted_before_sign_in_is_worthless_after(host: Server) -> None:
    """Session fixation: mallory's session (and its token) planted in the victim's browser, who then signs in."""
    mallory, [mallorys_chat, _] = victim(host, "mallory")
    planted = page_token(mallory, host.url, mallorys_chat)
    alice = httpx.Client(trust_env=False, timeout=30, cookies=mallory.cookies)
    alice.get(f"{host.url}/login/alice-fixated")  # the host signs the victim in, in the planted session
    chat = int(alice.post(f"{host.url}/chat/new", headers={"Origin": host.url}).headers["location"].rsplit("/", 1)[1])
    resp = alice.post(f"{host.url}/chat/{chat}/rename", data={"title": "pwned"}, headers={"X-CSRF-Token": planted})
    assert resp.status_code == 403
    assert page_token(alice, host.url, chat) != planted


def test_the_standalone_cookie_is_host_prefixed_over_https(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", uploads_dir=tmp_path / "up",
                        kernels_dir=tmp_path / "k", https=True)
    with TestClient(create_app(settings), base_url="https://127.0.0.1") as client:
        cookie = client.get("/chat", follow_redirects=False).headers["set-cookie"]
    assert cookie.startswith("__Host-session=")
    assert {"secure", "path=/", "httponly"} <= {p.strip().lower() for p in cookie.split(";")}
    assert "domain=" not in cookie.lower()


ATTACK = """<!doctype html><title>cute cats</title>
<form method="post" action="{victim}/chat/{chat}/rename"><input name="title" value="pwned"></form>
<script>
fetch("{victim}/chat/{chat}/delete", {{method: "POST", mode: "no-cors", credentials: "include"}})
  .finally(() => document.forms[0].submit());
</script>"""


@contextmanager
def attacker_page(body: str) -> Iterator[str]:
    """A page on another port of 127.0.0.1 (same site as the chat, another origin); its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802  (http.server's name)
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_page_on_another_port_fails_in_a_real_browser(page: Page, server: Server) -> None:
    """Chromium sends the session cookie to the other port's form and fetch (same site): both are refused."""
    page.goto(f"{server.url}/chat")  # the victim, signed in (demo mode), with a chat
    chat = int(page.url.rsplit("/", 1)[1])
    with attacker_page(ATTACK.format(victim=server.url, chat=chat)) as evil:
        with page.expect_navigation(url=f"**/chat/{chat}/rename"):
            page.goto(evil)
        assert "did not come from the chat's own page" in page.content()  # the cookie came along, and was not enough
    with closing(sqlite3.connect(server.db_path)) as db:
        assert db.execute("SELECT title FROM chat WHERE id = ?", (chat,)).fetchone() not in (None, ("pwned",))
