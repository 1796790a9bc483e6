"""A 2,000-turn chat (issue 14): it opens at its bottom in well under a second of server time, and earlier turns
load as the reader scrolls up (or presses the control), in order, with no gap, and without the view jumping."""

from __future__ import annotations

import re
import statistics
import time

import httpx
import pytest
from playwright.sync_api import Page, expect

from app.turn_window import BATCH_TURNS, PAGE_TURNS
from tests.e2e.conftest import wait_socket
from tests.e2e.helpers import DISTANCE_TO_END, wait_turn_done
from tests.e2e.server import Server
from tests.longchat import user_id, write_chat

TURNS = 2000
RESETS = (1000, 1990)  # a shell reset in an early batch, and one in the latest
SHOWN = "[...document.querySelectorAll('#chat-turns > .turn')].map((t) => Number(t.dataset.turn))"
FIRST = "Number(document.querySelector('#chat-turns > .turn').dataset.turn)"
TOP_OF = "(k) => document.getElementById(`turn-${k}`).getBoundingClientRect().top"
# The reader scrolls the list to its top: says where turn k is then (before any batch can come: that takes a frame at
# least). A wheel turned up, then the scroll it makes (a script's wheel event scrolls nothing, so the script does).
SCROLL_UP = """(k) => { const scroller = document.getElementById('chat-scroll');
  scroller.dispatchEvent(new WheelEvent('wheel', {deltaY: -120, bubbles: true}));
  scroller.scrollTop = 0;
  return document.getElementById(`turn-${k}`).getBoundingClientRect().top; }"""
IN_VIEW = """(id) => { const r = document.getElementById(id).getBoundingClientRect();
  const v = document.getElementById('chat-scroll').getBoundingClientRect(); return r.bottom > v.top && r.top < v.bottom; }"""


@pytest.fixture(scope="module")
def long_chat(server: Server) -> int:
    """The demo user's 2,000-turn chat, written straight into the server's database (its page never opened yet)."""
    return write_chat(server.db_path, user_id(server.db_path, "demo"), TURNS, resets=RESETS)


def server_time(url: str) -> float:
    """Seconds to the whole page, from a client on the same machine: the server's time, and a loopback round trip."""
    start = time.perf_counter()
    resp = httpx.get(url, timeout=30, trust_env=False)
    elapsed = time.perf_counter() - start
    assert resp.status_code == 200 and 'class="turn ' in resp.text
    return elapsed


def test_a_2000_turn_chat_opens_at_its_bottom_and_scrolls_to_its_top(page: Page, server: Server, long_chat: int) -> None:
    url = f"{server.url}/chat/{long_chat}"
    # The server's first page of all pays for starting its renderer (imports, parsers): whatever chat that is.
    warm_up = server_time(f"{server.url}/chat/{write_chat(server.db_path, user_id(server.db_path, 'demo'), 1)}")
    cold = server_time(url)  # nothing of it rendered or cached yet
    warm = statistics.median(server_time(url) for _ in range(5))
    print(f"\n2,000-turn chat page: {cold * 1000:.0f} ms cold, {warm * 1000:.0f} ms warm (median of 5); "
          f"a 1-turn chat before it: {warm_up * 1000:.0f} ms")
    assert cold < 1.0, f"the page took {cold:.2f} s"
    page.goto(url)
    wait_socket(page)
    page.wait_for_timeout(600)
    assert page.evaluate(DISTANCE_TO_END) < 2, "it opens at its last line"
    assert page.evaluate(SHOWN) == list(range(TURNS - PAGE_TURNS, TURNS)), "the latest turns only"
    loads, started = 0, time.perf_counter()
    while (first := page.evaluate(FIRST)) > 0:
        top = page.evaluate(SCROLL_UP, first)  # to the top of what is there: the control comes into view
        page.wait_for_function(f"() => {FIRST} < {first}")
        if loads < 3:
            page.wait_for_timeout(100)
            assert abs(page.evaluate(TOP_OF, first) - top) < 2, "the view jumped when earlier turns came in above it"
        loads += 1
    print(f"scrolled to the top in {loads} loads, {time.perf_counter() - started:.1f} s")
    assert page.evaluate(SHOWN) == list(range(TURNS)), "every turn, in order, once"
    expect(page.get_by_test_id("load-earlier")).to_be_hidden()
    for k in RESETS:  # each shell reset shows once, just above the turn it came before
        expect(page.get_by_test_id(f"shell-reset-{k}")).to_have_count(1)
        assert page.evaluate(f"document.getElementById('turn-{k}').previousElementSibling.dataset.testid") == \
            f"shell-reset-{k}"


def test_the_keyboard_reaches_the_control_and_enter_loads_the_batch_before(page: Page, server: Server,
                                                                            long_chat: int) -> None:
    page.goto(f"{server.url}/chat/{long_chat}")
    wait_socket(page)
    expect(page.locator("#chat-input")).to_be_focused()
    control = page.get_by_role("button", name="Show earlier messages")
    for _ in range(10):  # back from the message box, past the conversation (one tab stop)
        page.keyboard.press("Shift+Tab")
        if page.evaluate("document.activeElement.id") == "load-earlier":
            break
    expect(control).to_be_focused()
    # Focus brought the control into view, so it loaded a batch by itself, which went in above the view.
    page.wait_for_function(f"(id) => !({IN_VIEW})(id) && {FIRST} < {TURNS - PAGE_TURNS}", arg="load-earlier")
    first = page.evaluate(FIRST)
    expect(control).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => {FIRST} < {first}")
    first = page.evaluate(FIRST)
    assert page.evaluate(SHOWN) == list(range(first, TURNS))
    expect(control).to_be_focused()  # still there for the next press
    # The turns that came in joined the conversation's one tab stop: Tab enters it, Home reaches the first of them.
    page.keyboard.press("Tab")
    assert page.evaluate("document.getElementById('chat-turns').contains(document.activeElement)")
    page.keyboard.press("Home")
    expect(page.get_by_test_id(f"edit-{first}")).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(control).to_be_focused()


def test_a_link_to_an_early_turn_opens_the_page_at_it(page: Page, server: Server, long_chat: int) -> None:
    page.goto(f"{server.url}/chat/{long_chat}#turn-1900")  # a link made before pages had `?at=`
    page.wait_for_url(re.compile(rf"/chat/{long_chat}\?at=1900#turn-1900$"))
    wait_socket(page)
    turn = page.locator("#turn-1900")
    expect(turn).to_have_class(re.compile("search-target"))
    box, view = turn.bounding_box(), page.locator("#chat-scroll").bounding_box()
    assert box and view and abs(box["y"] - view["y"]) < 50, "the turn is at the top of the view"
    assert page.evaluate(SHOWN)[-1] == TURNS - 1, "with everything after it"
    page.evaluate("location.hash = '#turn-1800'")  # an in-page link (a notice's) to a turn above the first shown
    page.wait_for_url(re.compile(rf"/chat/{long_chat}\?at=1800#turn-1800$"))
    expect(page.locator("#turn-1800")).to_have_class(re.compile("search-target"))


def test_edit_and_regenerate_work_on_the_latest_turns_and_earlier_ones_still_load(page: Page, server: Server) -> None:
    chat = write_chat(server.db_path, user_id(server.db_path, "demo"), 100, resets=(97,))
    page.goto(f"{server.url}/chat/{chat}")
    wait_socket(page)
    page.get_by_test_id("edit-95").click()
    expect(page.get_by_test_id("save-edit-95")).to_have_text("Save & regenerate")  # it keeps what follows, as a version
    page.locator("#user-95 textarea").fill("Tell me about rivers")
    page.get_by_test_id("save-edit-95").click()
    expect(page.locator("#turn-96")).to_have_count(0)  # removed at once, with the shell reset after turn 96
    expect(page.get_by_test_id("shell-reset-97")).to_have_count(0)
    wait_turn_done(page, 95)
    expect(page.locator("#user-95")).to_contain_text("Tell me about rivers")
    page.get_by_test_id("regenerate-95").click()
    wait_turn_done(page, 95)
    first = 100 - PAGE_TURNS
    assert page.evaluate(SHOWN) == list(range(first, 96))
    page.evaluate(SCROLL_UP, first)
    page.wait_for_function(f"() => {FIRST} < {first}")
    assert page.evaluate(SHOWN) == list(range(first - BATCH_TURNS, 96)), "the batch before, joined to the edited turns"
    page.reload()
    wait_socket(page)
    assert page.evaluate(SHOWN) == list(range(96 - PAGE_TURNS, 96))
    expect(page.locator("#user-95")).to_contain_text("Tell me about rivers")
    expect(page.get_by_test_id("load-earlier")).to_be_visible()
