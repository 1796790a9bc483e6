"""The Content-Security-Policy: sent on every chat response, strict, and the page still works under it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fasthtml.common import FastHTML
from playwright.sync_api import Page, expect
from starlette.testclient import TestClient

from app.mount import mount_chat
from app.security import CSP
from tests.e2e.conftest import wait_socket
from tests.e2e.helpers import send, wait_turn_done
from tests.e2e.server import Server
from tests.unit.test_routes import BROWSER, host_app, new_chat
from ui.core import chat_headers
from varro.config import Settings


def directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (d.split() for d in policy.split(";") if d.strip())}


def test_policy_forbids_inline_script_eval_and_other_origins() -> None:
    policy = directives(CSP)
    for name in ("default-src", "script-src", "style-src", "connect-src", "img-src", "font-src"):
        sources = policy[name]
        assert "'self'" in sources, name
        # Nothing but our own origin (and data: and blob: images): no host, scheme or wildcard that reaches elsewhere.
        assert set(sources) <= {"'self'", "data:", "blob:"}, (name, sources)
        assert ("data:" not in sources and "blob:" not in sources) or name == "img-src"
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["form-action"] == ["'self'"]
    assert "unsafe" not in CSP


def test_every_chat_response_carries_the_policy(tmp_path: Path) -> None:
    app = host_app(tmp_path)
    with TestClient(app, headers=BROWSER) as client:
        assert client.get("/chat").headers["content-security-policy"] == CSP  # 401: signed out
        client.get("/login/alice")
        chat = new_chat(client)
        for path in ["/chat", f"/chat/{chat}", "/chat/history", "/chat/999", "/chat/static/js/chat.js",
                     "/chat/uploads/1/1/none.png"]:
            resp = client.get(path, follow_redirects=False)
            assert resp.headers["content-security-policy"] == CSP, path
            assert resp.headers["x-content-type-options"] == "nosniff", path
            assert resp.headers["referrer-policy"] == "same-origin", path
        assert client.post(f"/chat/{chat}/rename", data={"title": "x"}).headers["content-security-policy"] == CSP
        # The host's own routes are the host's business.
        assert "content-security-policy" not in client.get("/login/alice").headers


def test_an_upload_keeps_its_sandbox_policy(tmp_path: Path) -> None:
    app = host_app(tmp_path)
    with TestClient(app, headers=BROWSER) as client:
        client.get("/login/alice")
        chat = new_chat(client)
        folder = Path(app.state.varro.settings.uploads_dir) / "1" / str(chat)
        folder.mkdir(parents=True)
        (folder / "a.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>')
        resp = client.get(f"/chat/uploads/1/{chat}/a.svg")
        # No script, and no fetch of anything else either (an SVG can pull in a third-party image).
        assert resp.status_code == 200 and resp.headers["content-security-policy"] == "sandbox; default-src 'none'"


def test_a_host_with_its_own_policy_can_turn_ours_off(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", demo_user="demo",
                        uploads_dir=tmp_path / "up", kernels_dir=tmp_path / "k")
    app = FastHTML(default_hdrs=False, hdrs=chat_headers(), secret_key="s", key_fname=str(tmp_path / "key"))
    mount_chat(app, settings, headers={})
    with TestClient(app, headers=BROWSER) as client:
        assert "content-security-policy" not in client.get("/chat/static/js/chat.js").headers


# --- in Chromium ---------------------------------------------------------------------------------------


@pytest.fixture
def problems(page: Page) -> list[str]:
    found: list[str] = []
    page.on("console", lambda m: found.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: found.append(str(e)))
    return found


def test_the_page_works_under_the_policy(page: Page, server: Server, problems: list[str]) -> None:
    resp = page.goto(f"{server.url}/chat")
    assert resp is not None and resp.headers["content-security-policy"] == CSP
    with page.expect_navigation():
        page.get_by_test_id("new-chat").click()
    wait_socket(page)
    # htmx over the websocket, the Alpine CSP build, an inline figure from /chat/uploads.
    send(page, "plot a histogram of some numbers")
    wait_turn_done(page, 0)
    figure = page.locator("#assistant-0 .tool-result img")
    expect(figure).to_be_visible()
    assert figure.evaluate("img => img.complete && img.naturalWidth > 0")
    page.get_by_test_id("edit-0").click()
    expect(page.locator("#user-0 textarea")).to_be_visible()
    page.locator("#user-0 textarea").press("Escape")
    expect(page.locator("#user-0 textarea")).to_be_hidden()
    page.get_by_test_id("chat-title-text").click()  # htmx's hx-post
    page.get_by_label("Chat title").fill("Under a strict policy")
    page.get_by_test_id("rename-save").click()
    expect(page.get_by_test_id("chat-title-text")).to_have_text("Under a strict policy")
    page.get_by_test_id("chat-menu").click()  # htmx's hx-get
    expect(page.locator("#chat-menu-list a").first).to_be_visible()
    assert page.evaluate("window.__violations") == []
    assert problems == []


def test_the_policy_is_in_force(page: Page, server: Server) -> None:
    page.goto(f"{server.url}/chat")
    wait_socket(page)
    ran = page.evaluate("""async () => {
      const s = document.createElement('script');
      s.textContent = 'window.__inline = 1';
      document.body.append(s);
      const d = document.createElement('div');
      d.setAttribute('onclick', 'window.__handler = 1');
      document.body.append(d);
      d.click();
      let fetched = true;
      try { await fetch('http://evil.example/x'); } catch (e) { fetched = false; }
      await new Promise((r) => setTimeout(r, 100));
      return {inline: window.__inline, handler: window.__handler, fetched};
    }""")
    assert ran == {"inline": None, "handler": None, "fetched": False}
    blocked = " ".join(page.evaluate("window.__violations"))
    assert "script-src" in blocked and "connect-src" in blocked
