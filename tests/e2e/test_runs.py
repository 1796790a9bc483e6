"""A running answer finishes whatever the tab does, and a lost connection is said and never locks the page."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.conftest import WS_FLAG, wait_socket
from tests.e2e.helpers import chat_id_of, converse, send, wait_idle, wait_turn_done
from tests.e2e.server import Server, run_server

LONG = "/stream 600 at 60"  # about ten seconds of answer


def statuses(server: Server, chat_id: int) -> list[tuple[str, int]]:
    """Each stored turn's status and the length of its stored answer."""
    with sqlite3.connect(server.db_path) as db:
        rows = db.execute("SELECT status, length(content) FROM turn WHERE chat_id=? AND on_path ORDER BY idx", (chat_id,))
        return rows.fetchall()


def streaming(page: Page, k: int = 0) -> None:
    page.wait_for_function(f"() => (document.querySelector('#assistant-{k}')?.innerText.length ?? 0) > 100")


def new_chat_in(page: Page) -> int:
    with page.expect_navigation():
        page.get_by_test_id("new-chat").click()
    wait_socket(page)
    return chat_id_of(page)


def test_switching_chats_mid_answer_lets_it_finish(new_chat: Page, server: Server) -> None:
    page = new_chat
    a = chat_id_of(page)
    send(page, f"{LONG} until switch-{a}")  # held open until the test has seen it running without a tab
    streaming(page)
    b = new_chat_in(page)
    assert b != a
    send(page, "Tell me about lists")
    wait_turn_done(page, 0)
    page.get_by_test_id("chat-menu").click()
    # A is still being written, with no tab on it: in the menu (the sidebar, on a wide page, says so too)
    expect(page.get_by_test_id(f"chat-link-{a}").get_by_test_id(f"running-{a}")).to_be_visible()
    expect(page.get_by_test_id(f"running-{b}")).to_have_count(0)
    (server.data / "gates" / f"switch-{a}").touch()  # now A may end, after its 600 chunks
    with page.expect_navigation():
        page.get_by_test_id(f"chat-link-{a}").click()
    wait_socket(page)
    expect(page.locator("#assistant-0")).not_to_be_empty()  # live (caught up) or already finished
    wait_turn_done(page, 0, 30_000)
    expect(page.locator("#meta-0")).to_have_attribute("data-status", "complete")
    assert page.locator("#chat-turns > .turn").count() == 1
    assert page.locator("#assistant-0 [id^='part-']").count() == 0, "ends as the stored answer renders"
    assert [s for s, _ in statuses(server, a)] == ["complete"] and [s for s, _ in statuses(server, b)] == ["complete"]
    assert statuses(server, a)[0][1] > 3000, "the whole answer is stored"


def test_closing_the_tab_mid_answer_does_not_stop_it(new_chat: Page, context: BrowserContext, server: Server) -> None:
    a = chat_id_of(new_chat)
    send(new_chat, LONG)
    streaming(new_chat)
    new_chat.close()
    again = context.new_page()
    again.add_init_script(WS_FLAG)
    again.goto(f"{server.url}/chat/{a}")
    wait_socket(again)
    wait_turn_done(again, 0, 30_000)
    expect(again.locator("#meta-0")).to_have_attribute("data-status", "complete")
    assert [s for s, _ in statuses(server, a)] == ["complete"]
    again.close()


def test_two_tabs_on_two_chats_both_finish(new_chat: Page, context: BrowserContext, server: Server) -> None:
    first = new_chat
    send(first, "Tell me about lists")
    wait_turn_done(first, 0)
    other = chat_id_of(first)
    a = new_chat_in(first)
    send(first, LONG)
    streaming(first)
    second = context.new_page()
    second.add_init_script(WS_FLAG)
    second.goto(f"{server.url}/chat/{other}")
    wait_socket(second)
    expect(first.get_by_test_id("replaced")).to_contain_text("You opened another chat in a newer tab")
    send(second, "/stream 200 at 100")
    wait_turn_done(second, 1)
    expect(second.locator("#meta-1")).to_have_attribute("data-status", "complete")
    first.wait_for_timeout(200)
    deadline = 30_000
    while [s for s, _ in statuses(server, a)] != ["complete"] and deadline > 0:
        first.wait_for_timeout(250)
        deadline -= 250
    assert [s for s, _ in statuses(server, a)] == ["complete"], "the first tab's answer ran to its end"
    assert [s for s, _ in statuses(server, other)] == ["complete", "complete"]
    second.close()


def test_a_server_restart_is_said_and_leaves_the_page_usable(page: Page, tmp_path: Path) -> None:
    with run_server(tmp_path / "data") as srv:
        page.goto(f"{srv.url}/chat")
        wait_socket(page)
        page.evaluate("window.__sameDocument = true")
        send(page, LONG)
        streaming(page)
        expect(page.get_by_test_id("connection-lost")).to_be_hidden()
        srv.process.kill()  # no goodbye: the socket just drops
        srv.process.wait()
        expect(page.get_by_test_id("connection-lost")).to_be_visible(timeout=2_000)
        expect(page.get_by_test_id("connection-lost")).to_contain_text("Reconnecting")
        port = urlsplit(srv.url).port
        assert port is not None
        with run_server(tmp_path / "data", port=port):
            expect(page.get_by_test_id("connection-lost")).to_be_hidden(timeout=10_000)
            wait_idle(page, 5_000)
            expect(page.get_by_test_id("stop")).to_be_hidden()
            expect(page.locator("#progress")).not_to_contain_text("Thinking")
            expect(page.locator("#progress")).not_to_contain_text("Writing")
            # The answer the crash cut off is kept, stored as stopped (its message was stored when it started).
            expect(page.locator("#meta-0")).to_have_attribute("data-status", "stopped")
            expect(page.get_by_test_id("cut-off-0")).to_be_visible()  # not the user's own "Stopped"
            expect(page.get_by_test_id("stopped-0")).to_have_count(0)
            send(page, "Tell me about lists")
            wait_turn_done(page, 1)
            expect(page.locator("#meta-1")).to_have_attribute("data-status", "complete")
            assert page.evaluate("window.__sameDocument") is True, "no reload"


def test_past_the_run_cap_a_send_says_so_and_keeps_the_text(page: Page, tmp_path: Path) -> None:
    with run_server(tmp_path / "data", VARRO_MAX_RUNS_PER_USER="1") as srv:
        page.goto(f"{srv.url}/chat")
        wait_socket(page)
        send(page, LONG)
        streaming(page)
        new_chat_in(page)
        send(page, "Tell me about lists")
        expect(page.locator("#chat-notices [role=alert]")).to_contain_text("the limit is 1 at once")
        expect(page.locator("#chat-input")).to_have_value("Tell me about lists")
        wait_idle(page, 2_000)
        expect(page.get_by_test_id("stop")).to_be_hidden()
        expect(page.locator("#turn-0")).to_have_count(0)


def test_past_the_turns_a_minute_a_send_says_when_and_keeps_the_text(page: Page, tmp_path: Path) -> None:
    with run_server(tmp_path / "data", VARRO_TURNS_PER_MIN="2") as srv:
        page.goto(f"{srv.url}/chat")
        wait_socket(page)
        converse(page, "Tell me about rivers", "Tell me about lakes")
        send(page, "Tell me about seas")
        notice = page.locator("#chat-notices [role=alert]")
        expect(notice).to_contain_text("more than 2 messages in a minute")
        expect(notice).to_contain_text(re.compile(r"Try again in \d+ seconds"))
        expect(page.locator("#chat-input")).to_have_value("Tell me about seas")
        wait_idle(page, 2_000)
        expect(page.locator("#turn-2")).to_have_count(0)
        # A regeneration is a turn too: refused, and the answer it would have replaced is shown as it was.
        answer = page.locator("#assistant-1").text_content()  # not inner_text: chunks out of view render no text
        page.get_by_test_id("regenerate-1").click()
        expect(notice).to_contain_text("regenerations count too")
        expect(page.locator("#meta-1")).to_have_attribute("data-status", "complete")
        assert page.locator("#assistant-1").text_content() == answer and "Lakes" in (answer or "")
        expect(page.locator("#chat-input")).to_have_value("Tell me about seas")
        assert [status for status, _ in statuses(srv, chat_id_of(page))] == ["complete", "complete"]
