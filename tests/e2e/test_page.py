"""The page as a newcomer meets it: served locally, live, and its chats managed from the header."""

from __future__ import annotations

import re
import sqlite3

from playwright.sync_api import Page, expect

from tests.e2e.conftest import wait_socket
from tests.e2e.server import Server


def chat_rows(server: Server) -> dict[int, str]:
    with sqlite3.connect(server.db_path) as db:
        return dict(db.execute("SELECT id, title FROM chat"))


def test_page_loads_everything_from_the_app_itself(page: Page, server: Server) -> None:
    requests: list[str] = []
    problems: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{server.url}/chat")
    wait_socket(page)
    assert page.evaluate("typeof htmx !== 'undefined' && typeof Alpine !== 'undefined'")
    assert page.evaluate("htmx.version.startsWith('2.')")
    # Alpine is live: the component's state is bound (the send button shows, the stop button is hidden).
    expect(page.get_by_test_id("send")).to_be_visible()
    expect(page.get_by_test_id("stop")).to_be_hidden()
    external = [u for u in requests if not u.startswith(server.url) and not u.startswith("ws://127.0.0.1")]
    assert external == []
    # Under content-hashed names (app/assets.py), cached for a year.
    assert any(re.search(r"/vendor/htmx\.min\.[0-9a-f]{12}\.js$", u) for u in requests)
    assert any(re.search(r"/vendor/app\.[0-9a-f]{12}\.css$", u) for u in requests)
    assert problems == []
    expect(page.get_by_test_id("model-badge")).to_contain_text("demo")


def test_create_rename_delete_reach_the_database(new_chat: Page, server: Server) -> None:
    page = new_chat
    chat_id = int(page.locator("#chat").get_attribute("data-chat-id"))
    assert chat_id in chat_rows(server)

    page.get_by_test_id("chat-title-text").click()
    page.get_by_label("Chat title").fill("Trip planning")
    page.get_by_test_id("rename-save").click()
    expect(page.get_by_test_id("chat-title-text")).to_have_text("Trip planning")
    assert chat_rows(server)[chat_id] == "Trip planning"

    page.get_by_test_id("delete-chat").click()
    page.get_by_test_id("confirm-delete").click()
    page.wait_for_url(lambda url: f"/chat/{chat_id}" not in url)
    assert chat_id not in chat_rows(server)


def test_delete_can_be_cancelled(new_chat: Page, server: Server) -> None:
    page = new_chat
    chat_id = int(page.locator("#chat").get_attribute("data-chat-id"))
    page.get_by_test_id("delete-chat").click()
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#delete-dialog")).not_to_be_visible()
    assert chat_id in chat_rows(server)


def test_switch_between_chats_from_the_menu(new_chat: Page, server: Server) -> None:
    page = new_chat
    first = int(page.locator("#chat").get_attribute("data-chat-id"))
    page.get_by_test_id("chat-title-text").click()
    page.get_by_label("Chat title").fill("Alpha chat")
    page.get_by_test_id("rename-save").click()
    expect(page.get_by_test_id("chat-title-text")).to_have_text("Alpha chat")

    # "New chat" on a chat without messages reuses it; send one so the next is really new.
    page.locator("#chat-input").fill("hello there")
    page.keyboard.press("Enter")
    expect(page.locator("#progress")).to_have_attribute("data-running", "false", timeout=30_000)
    expect(page.locator("#turn-0 .turn-meta")).not_to_be_empty()
    page.get_by_test_id("new-chat").click()
    wait_socket(page)
    second = int(page.locator("#chat").get_attribute("data-chat-id"))
    assert second != first

    page.get_by_test_id("chat-menu").click()
    link = page.get_by_test_id(f"chat-link-{first}")
    expect(link).to_contain_text("Alpha chat")
    expect(page.get_by_test_id(f"chat-link-{second}")).to_have_attribute("aria-current", "page")
    link.click()
    page.wait_for_url(f"**/chat/{first}")
    expect(page.get_by_test_id("chat-title-text")).to_have_text("Alpha chat")
    expect(page.locator("#user-0")).to_contain_text("hello there")


def test_another_users_chat_is_not_found(page: Page, server: Server) -> None:
    with sqlite3.connect(server.db_path) as db:
        db.execute("INSERT INTO user (name) VALUES ('mallory-owner')")
        owner = db.execute("SELECT id FROM user WHERE name='mallory-owner'").fetchone()[0]
        db.execute("INSERT INTO chat (user_id, title, created_at, updated_at) VALUES (?, 'private', "
                   "'2026-01-01 00:00:00', '2026-01-01 00:00:00')", (owner,))
        other = db.execute("SELECT max(id) FROM chat").fetchone()[0]
    page.goto(f"{server.url}/chat")
    for method, path in [("GET", f"/chat/{other}"), ("POST", f"/chat/{other}/rename"), ("POST", f"/chat/{other}/delete")]:
        resp = page.request.fetch(f"{server.url}{path}", method=method, form={"title": "x"} if method == "POST" else None,
                                  headers={"Origin": server.url}, max_redirects=0)
        assert resp.status == 404, (method, path, resp.status)
        assert "private" not in resp.text()
    assert chat_rows(server)[other] == "private"
