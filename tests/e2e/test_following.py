"""Following an answer to its end, and the reader's input that stops it: a wheel, a touch, an editor opened.

While an answer streams the list keeps its last line in view, until the reader shows they are reading elsewhere;
"Jump to latest" follows again (static/js/follow.js)."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.e2e.conftest import wait_socket
from tests.e2e.helpers import DISTANCE_TO_END, phone, send, wait_idle, wait_running, wait_turn_done
from tests.e2e.server import Server

STATE = "(() => { const c = Alpine.$data(document.getElementById('chat')); return [c.stick, c.showJump, c.lastDist]; })()"


def test_a_long_chat_opens_at_its_true_end_and_jump_to_latest_reaches_it(new_chat: Page) -> None:
    page = new_chat
    for k in range(3):
        send(page, "/stream 4000 at 4000")
        wait_turn_done(page, k, timeout=90_000)
    page.reload()
    wait_socket(page)
    reaches_the_end(page, 2, "a reopened chat lands at its last line")
    send(page, "/stream 1500 at 150")
    wait_running(page)
    page.locator("#chat-scroll").hover()
    page.mouse.wheel(0, -100_000)  # the user scrolls up to the start to read
    # ... and gets there: on a loaded machine the wheel's scrolling still runs after a click that comes sooner, and
    # would scroll the page away from the end that "Jump to latest" just reached.
    page.wait_for_function("() => document.getElementById('chat-scroll').scrollTop === 0", timeout=15_000)
    jump = page.get_by_test_id("jump-latest")
    expect(jump).to_be_visible()
    jump.click()
    reaches_the_end(page, 48, "Jump to latest follows the stream from its true end")
    wait_turn_done(page, 3, timeout=60_000)
    reaches_the_end(page, 2, "the finished answer ends at the last line")


def test_a_wheel_turned_up_stops_following_before_the_page_has_scrolled(new_chat: Page) -> None:
    page = new_chat
    send(page, "/stream 1500 at 150")
    wait_running(page)
    # A frame that lands between the wheel and its scroll must not pin the end again: the wheel alone decides.
    # (A script's wheel event scrolls nothing, so only the wheel itself can have stopped the following.)
    stick = page.evaluate("""() => {
        const scroller = document.getElementById('chat-scroll');
        scroller.dispatchEvent(new WheelEvent('wheel', {deltaY: -120, bubbles: true}));
        return Alpine.$data(document.getElementById('chat')).stick;
    }""")
    assert stick is False
    expect(page.get_by_test_id("jump-latest")).to_be_visible()
    page.get_by_test_id("stop").click()
    wait_idle(page)


def test_a_fast_answer_in_a_short_window_is_followed_to_its_last_line(new_chat: Page) -> None:
    """An answer's last swap can shrink the list (its top clamped up) and grow it (the turn's footer) in one task; the
    scroll event that reports it comes before the resize that pins the end again. Not the reader: still following.
    (Without the reader's input deciding, this stopped following in five runs of six on a quiet machine.)"""
    page = new_chat
    page.set_viewport_size({"width": 900, "height": 500})
    for k in range(3):
        send(page, "/stream 600 at 3000")
        wait_turn_done(page, k)
        reaches_the_end(page, 2, f"answer {k} ends at the last line")
        assert page.evaluate(STATE)[:2] == [True, False], "still following, no 'Jump to latest'"


def test_a_touch_scroll_up_stops_following_and_the_reader_stays_there(browser: Browser, server: Server) -> None:
    context, page = phone(browser, server)
    try:
        page.locator("#chat-input").fill("/stream 1500 at 150")
        page.get_by_test_id("send").tap()  # Enter is a new line on a phone
        wait_running(page)
        page.wait_for_function("() => document.getElementById('chat-scroll').scrollHeight > 2000", timeout=30_000)
        # A finger drags the list down (touches through Chromium's input pipeline, which scrolls): the page goes up.
        cdp = context.new_cdp_session(page)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": 195, "y": 200}]})
        for k in range(1, 21):
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": 195, "y": 200 + 20 * k}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        expect(page.get_by_test_id("jump-latest")).to_be_visible()
        where = "(() => { const s = document.getElementById('chat-scroll'); return [s.scrollTop, s.scrollHeight]; })()"
        top, height = page.evaluate(where)
        grown = f"() => document.getElementById('chat-scroll').scrollHeight > {height + 200}"
        page.wait_for_function(grown)  # it streams on
        # ... and the reader is not pulled down to it (a chunk above settling to its real height may move them up).
        assert page.evaluate(where)[0] <= top + 2, "the reader stays"
        assert page.evaluate(STATE)[:2] == [False, True]
        page.get_by_test_id("jump-latest").tap()
        reaches_the_end(page, 48, "Jump to latest follows the stream again")
        page.get_by_test_id("stop").tap()
        wait_idle(page)
    finally:
        context.close()


def reaches_the_end(page: Page, within: int, why: str) -> None:
    """The scroller comes to `within` pixels of its end (waited for: a loaded machine paints late)."""
    try:
        page.wait_for_function(f"() => {DISTANCE_TO_END} < {within}", timeout=15_000)
    except PlaywrightTimeoutError:
        raise AssertionError(f"{why}: [stick, showJump, lastDist] = {page.evaluate(STATE)}") from None


def test_an_editor_opened_while_an_answer_streams_stays_in_view(new_chat: Page) -> None:
    page = new_chat
    page.set_viewport_size({"width": 900, "height": 1400})
    send(page, "Tell me about rivers")
    wait_turn_done(page, 0)
    send(page, "/stream 3000 at 100")
    wait_running(page)
    page.get_by_test_id("edit-0").click()  # the chat is still short: opening the editor scrolls nothing
    height = page.evaluate("document.getElementById('chat-scroll').scrollHeight")
    page.wait_for_function(f"() => document.getElementById('chat-scroll').scrollHeight > {height + 1500}",
                           timeout=60_000)
    expect(page.get_by_test_id("save-edit-0")).to_be_in_viewport()  # not carried off by the following
    expect(page.get_by_test_id("jump-latest")).to_be_visible()
    page.get_by_test_id("stop").click()
    wait_idle(page)
