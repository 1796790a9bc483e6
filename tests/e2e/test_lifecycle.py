"""Edit, stop, two tabs and reload mid-answer: the session life cycle in the browser."""

from __future__ import annotations

import sqlite3

from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.conftest import WS_FLAG, wait_socket
from tests.e2e.helpers import chat_id_of, converse, py, send, wait_idle, wait_turn_done
from tests.e2e.server import Server


def stored(server: Server, chat_id: int) -> list[tuple[int, str, str]]:
    with sqlite3.connect(server.db_path) as db:
        return db.execute("SELECT idx, status, user_text FROM turn WHERE chat_id=? AND on_path ORDER BY idx", (chat_id,)).fetchall()




def live_text(page: Page, k: int) -> str:
    return page.locator(f"#assistant-{k}").inner_text()


def test_editing_turn_1_of_3_truncates_and_regenerates(new_chat: Page, server: Server) -> None:
    page = new_chat
    converse(page, py("a = 1"), py("b = 2"), py("c = 3"))
    page.get_by_test_id("edit-1").click()
    editor = page.locator("#user-1 textarea")
    expect(editor).to_be_visible()
    editor.fill(py("print(sorted(n for n in ('a', 'b', 'c') if n in globals()))"))
    page.get_by_test_id("save-edit-1").click()
    expect(page.locator("#turn-2")).to_have_count(0)  # removed at once, before the server answers
    wait_turn_done(page, 1)
    expect(page.locator("#chat-turns > .turn")).to_have_count(2)
    expect(page.locator("#user-1")).to_contain_text("sorted(n for n")
    expect(page.locator("#assistant-1 .tool-result")).to_contain_text("['a']")  # b and c are gone
    assert [row[0] for row in stored(server, chat_id_of(page))] == [0, 1]
    assert "sorted" in stored(server, chat_id_of(page))[1][2]


def test_escape_cancels_an_edit_and_up_arrow_edits_the_last_message(new_chat: Page) -> None:
    page = new_chat
    converse(page, "first", "second")
    page.locator("#chat-input").press("ArrowUp")
    editor = page.locator("#user-1 textarea")
    expect(editor).to_be_visible()
    expect(editor).to_be_focused()
    editor.press("Escape")
    expect(editor).to_be_hidden()
    expect(page.locator("#user-1")).to_contain_text("second")


def test_stop_keeps_the_partial_answer_marked_stopped(new_chat: Page, server: Server) -> None:
    page = new_chat
    send(page, "/stream 3000 at 150")
    expect(page.locator("#assistant-0 [id^='part-']").first).to_be_visible()
    page.wait_for_function("() => (document.querySelector('#assistant-0')?.innerText.length ?? 0) > 200")
    page.get_by_test_id("stop").click()
    expect(page.locator("#progress")).to_have_attribute("data-running", "false", timeout=1_000)
    expect(page.get_by_test_id("stopped-0")).to_be_visible()
    expect(page.get_by_test_id("send")).to_be_enabled()
    partial = live_text(page, 0)
    assert len(partial) > 80
    assert stored(server, chat_id_of(page))[0][1] == "stopped"
    page.reload()
    wait_socket(page)
    expect(page.get_by_test_id("stopped-0")).to_be_visible()
    assert live_text(page, 0)[:150] == partial[:150]


def test_escape_stops_a_running_answer(new_chat: Page, server: Server) -> None:
    page = new_chat
    send(page, "/stream 3000 at 150")
    page.wait_for_function("() => (document.querySelector('#assistant-0')?.innerText.length ?? 0) > 50")
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("stopped-0")).to_be_visible(timeout=5_000)


def test_a_second_tab_takes_over_and_the_first_goes_quiet(new_chat: Page, context: BrowserContext,
                                                          server: Server) -> None:
    first = new_chat
    url = first.url
    second = context.new_page()
    second.add_init_script(WS_FLAG)
    second.goto(url)
    wait_socket(second)
    expect(first.locator("#chat-notices")).to_contain_text("open in another tab")
    expect(first.get_by_test_id("take-back")).to_be_visible()
    send(second, "Only the newest tab hears this")
    wait_turn_done(second, 0)
    expect(second.locator("#assistant-0 .assistant-text").last).to_be_visible()
    assert first.locator("#turn-0").count() == 0, "no stream reaches the old tab"
    assert len(stored(server, chat_id_of(second))) == 1
    # Taking it back: the first tab reloads and the second is told in turn.
    first.get_by_test_id("take-back").click()
    wait_socket(first)
    expect(first.locator("#assistant-0 .assistant-text").last).to_be_visible()
    expect(second.locator("#chat-notices")).to_contain_text("open in another tab")
    second.close()


def test_reloading_mid_answer_shows_it_continuing_to_the_end(new_chat: Page, server: Server) -> None:
    page = new_chat
    send(page, "/stream 400 at 100")
    page.wait_for_function("() => (document.querySelector('#assistant-0')?.innerText.length ?? 0) > 100")
    page.reload()
    wait_socket(page)
    expect(page.locator("#progress")).to_have_attribute("data-running", "true")
    expect(page.locator("#assistant-0")).not_to_be_empty()
    wait_idle(page, 30_000)
    expect(page.locator("#meta-0")).to_have_attribute("data-status", "complete")
    assert stored(server, chat_id_of(page))[0][1] == "complete"
    assert page.locator("#chat-turns > .turn").count() == 1
    assert page.locator("#assistant-0 [id^='part-']").count() == 0, "the finished block replaced the live text"
