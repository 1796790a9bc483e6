"""What users of the well-known chat apps missed (issue 18): regenerate, honest edits, a shortcuts sheet."""

from __future__ import annotations

import re
import sqlite3

from playwright.sync_api import Page, expect

from tests.e2e.conftest import wait_socket
from tests.e2e.helpers import chat_id_of, converse, send, wait_turn_done
from tests.e2e.server import Server


def test_regenerate_the_last_answer_with_the_button_and_the_key(new_chat: Page) -> None:
    page = new_chat
    converse(page, "Tell me about rivers", "Tell me about glaciers")
    expect(page.get_by_test_id("regenerate-0")).to_be_hidden()  # only the last answer
    regenerate = page.get_by_test_id("regenerate-1")
    expect(regenerate).to_be_visible()
    first_answer = page.locator("#assistant-1").inner_text()
    regenerate.click()
    expect(page.locator("#meta-1[data-status]")).to_have_count(0)  # the old answer goes at once
    wait_turn_done(page, 1)
    expect(page.get_by_test_id("user-text-1")).to_have_text("Tell me about glaciers")
    expect(page.locator("#turn-2")).to_have_count(0)
    assert "glaciers" in page.locator("#assistant-1").inner_text().lower() and first_answer
    page.locator("#chat-input").focus()
    page.keyboard.press("Alt+r")
    expect(page.locator("#meta-1[data-status]")).to_have_count(0)
    wait_turn_done(page, 1)
    page.reload()
    expect(page.locator("#chat-turns > .turn")).to_have_count(2)


def test_question_mark_opens_the_shortcuts_sheet(new_chat: Page) -> None:
    page = new_chat
    page.locator("#chat-input").press("?")
    expect(page.locator("#chat-input")).to_have_value("?")  # typing a question mark is still typing
    expect(page.get_by_test_id("shortcuts")).to_be_hidden()
    page.locator("#chat-input").fill("")
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("?")
    sheet = page.get_by_test_id("shortcuts")
    expect(sheet).to_be_visible()
    for key in ("Enter", "Shift+Enter", "Esc", "Alt+R", "?"):
        expect(sheet.locator("kbd", has_text=key).first).to_be_visible()
    page.keyboard.press("Escape")
    expect(sheet).to_be_hidden()
    page.get_by_test_id("more-menu").click()
    page.get_by_test_id("show-shortcuts").click()
    expect(sheet).to_be_visible()


def test_search_finds_titles_and_message_text_and_opens_at_the_matching_turn(new_chat: Page, server: Server) -> None:
    page = new_chat
    # The server is the session's: other modules' chats are there too, so the word searched for is this test's own.
    converse(page, "Tell me about rivers", "Tell me about calderas", "Tell me about deserts", "Tell me about forests")
    chat = chat_id_of(page)
    page.get_by_test_id("new-chat").click()
    wait_socket(page)
    converse(page, "Tell me about penguins")
    page.get_by_test_id("chat-menu").click()
    search = page.get_by_test_id("chat-search")
    expect(search).to_be_focused()
    page.keyboard.type("calder")  # a prefix of a word in turn 1's message, as the user types
    result = page.get_by_test_id(f"search-result-{chat}")
    expect(result).to_be_visible()
    expect(page.locator("#chat-menu-list [data-testid^=search-result-]")).to_have_count(1)
    search.fill("penguins")
    expect(page.get_by_test_id(f"search-result-{chat}")).to_have_count(0)
    search.fill("scripted")  # only in the answers' text
    expect(page.get_by_test_id(f"search-result-{chat}")).to_be_visible()
    search.fill("calderas")
    expect(result).to_have_attribute("href", re.compile(r"#turn-1$"))
    result.click()
    page.wait_for_url(re.compile(rf"/chat/{chat}\?at=1&turn=\d+#turn-1$"))  # opened from turn 1 (a long chat shows only its latest)
    wait_socket(page)
    turn = page.locator("#turn-1")
    expect(turn).to_have_class(re.compile("search-target"))
    box, view = turn.bounding_box(), page.locator("#chat-scroll").bounding_box()
    assert box and view and view["y"] - 1 <= box["y"] < view["y"] + view["height"] / 2, "turn 1 is at the top of the view"


def test_every_chat_is_reachable_from_the_menu(new_chat: Page, server: Server) -> None:
    page = new_chat
    send(page, "Tell me about rivers")
    wait_turn_done(page, 0)
    with sqlite3.connect(server.db_path) as db:
        user = db.execute("SELECT user_id FROM chat WHERE id=?", (chat_id_of(page),)).fetchone()[0]
        old = "2020-01-01 00:00:00.000000"
        db.executemany("INSERT INTO chat (user_id, title, shell_resets, created_at, updated_at) VALUES (?, ?, '[]', ?, ?)",
                       [(user, f"Old chat {i}", old, old) for i in range(40)])
        oldest = db.execute("SELECT id FROM chat WHERE title='Old chat 0'").fetchone()[0]
    page.get_by_test_id("chat-menu").click()
    expect(page.get_by_test_id(f"chat-link-{chat_id_of(page)}")).to_be_visible()
    expect(page.get_by_test_id(f"chat-link-{oldest}")).to_have_count(0)
    page.get_by_test_id("all-chats").click()
    expect(page.get_by_test_id(f"chat-link-{oldest}")).to_be_attached()
    page.get_by_test_id(f"chat-link-{oldest}").scroll_into_view_if_needed()
    page.get_by_test_id(f"chat-link-{oldest}").click()
    page.wait_for_url(f"**/chat/{oldest}")
