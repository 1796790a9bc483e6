"""Watching the answer being typed, with the offline demo model through the real pydantic-ai stream."""

from __future__ import annotations

import json
import sqlite3

from playwright.sync_api import Page, expect

from tests.e2e.conftest import wait_socket
from tests.e2e.helpers import WATCH_LIVE_TEXT, converse, send, tidy, wait_turn_done
from tests.e2e.server import Server


def test_answer_grows_token_by_token_then_renders_markdown(new_chat: Page) -> None:
    page = new_chat
    page.evaluate(WATCH_LIVE_TEXT, 0)
    send(page, "Tell me about volcanoes")
    expect(page.locator("#user-0")).to_contain_text("Tell me about volcanoes")
    expect(page.locator("#progress")).to_have_attribute("data-running", "true")
    expect(page.get_by_test_id("stop")).to_be_visible()
    wait_turn_done(page, 0)
    lengths = page.evaluate("window.__lengths")
    assert len(lengths) >= 10, lengths
    assert lengths == sorted(lengths), "finished blocks are only added, and the open tail only grows between them"
    assert lengths[-1][0] >= 2, "blocks were rendered while the answer streamed"
    final = page.locator("#assistant-0 .assistant-text").last
    expect(final.locator("h2")).to_have_count(1)
    assert final.locator("li").count() >= 2
    expect(final.locator("pre.code-block .hl-k, pre.code-block [class^='hl-']").first).to_be_visible()
    # The live part is gone: the finished block replaced it.
    assert page.locator("#assistant-0 [id^='part-']").count() == 0
    expect(page.get_by_test_id("send")).to_be_enabled()


def test_tool_call_streams_its_arguments_then_result_then_answer(new_chat: Page, server: Server) -> None:
    page = new_chat
    page.evaluate("""() => {
      window.__args = new Set();
      new MutationObserver(() => {
        const live = document.querySelector('#assistant-0 .tool-call [id^="part-"]');
        if (live) window.__args.add(live.textContent.length);
      }).observe(document.getElementById('chat-turns'), {childList: true, subtree: true, characterData: true});
    }""")
    # The demo holds the call's last piece of arguments until the test opens the gate (the message's last line).
    send(page, "Please run this:\n```python\nwords = ['alpha', 'beta', 'gamma']\nprint(sum(len(w) for w in words) * 3)\n```"
               "\nuntil tool-args")
    live = page.locator('#assistant-0 .tool-call [id^="part-"]')
    expect(live).to_contain_text("for w in words")
    assert not live.inner_text().rstrip().endswith('"}'), "the arguments so far, before the call is whole"
    (server.data / "gates" / "tool-args").touch()
    wait_turn_done(page, 0)
    assert page.evaluate("window.__args.size") >= 2, "the tool call's arguments arrive in pieces"
    answer = page.locator("#assistant-0")
    expect(answer.locator(".tool-call")).to_contain_text("words = ['alpha', 'beta', 'gamma']")
    expect(answer.locator(".tool-result")).to_contain_text("42")
    expect(answer.locator(".assistant-text").last).to_contain_text("42")
    blocks_live = answer.inner_html()

    page.reload()
    wait_socket(page)
    expect(page.locator("#assistant-0 .tool-result")).to_contain_text("42")
    assert tidy(page.locator("#assistant-0").inner_html()) == tidy(blocks_live), "a reload shows the turn as it looked live"

    chat_id = int(page.locator("#chat").get_attribute("data-chat-id"))
    with sqlite3.connect(server.db_path) as db:
        status, content = db.execute("SELECT status, content FROM turn WHERE chat_id=? AND idx=0 AND on_path", (chat_id,)).fetchone()
    content = json.loads(content)
    assert status == "complete" and content["v"] == 1
    assert content["meta"]["model"] == "demo" and content["meta"]["duration_ms"] > 0
    kinds = [m["kind"] for m in content["assistant"]["messages"]]
    assert kinds == ["request", "response", "request", "response"]


def test_next_message_continues_with_the_history(new_chat: Page) -> None:
    page = new_chat
    converse(page, "First question about tides", "And a second one")
    expect(page.locator("#assistant-1 .assistant-text").last).to_contain_text("message 2")
    expect(page.locator("#assistant-1 .assistant-text").last).to_contain_text("tides")


def test_empty_and_malformed_frames_get_an_inline_message(new_chat: Page) -> None:
    page = new_chat
    page.evaluate("""() => {
      const ws = document.querySelector('#chat')['htmx-internal-data'].webSocket;
      ws.send('this is not json');
      ws.send(JSON.stringify({action: 'dance'}));
    }""")
    expect(page.locator("#chat-notices [role=alert]")).to_contain_text("Unknown action")
    send(page, "still works after bad frames")
    wait_turn_done(page, 0)
    expect(page.locator("#user-0")).to_contain_text("still works")


def test_scrolled_up_reader_is_not_yanked_down(new_chat: Page) -> None:
    page = new_chat
    page.set_viewport_size({"width": 900, "height": 500})
    send(page, "/stream 1500 at 300")
    scroller = page.locator("#chat-scroll")
    page.wait_for_function("() => document.getElementById('chat-scroll').scrollHeight > 1500")
    at_bottom = "(el) => el.scrollHeight - el.scrollTop - el.clientHeight < 60"
    assert scroller.evaluate(at_bottom), "following the stream while the reader is at the bottom"
    scroller.hover()
    page.mouse.wheel(0, -100_000)  # the reader turns the wheel up, to the start
    page.wait_for_function("() => document.getElementById('chat-scroll').scrollTop < 200", timeout=15_000)
    page.wait_for_timeout(600)  # frames keep coming
    assert scroller.evaluate("(el) => el.scrollTop") < 200, "a reader who scrolled up stays where they are"
    jump = page.get_by_test_id("jump-latest")
    expect(jump).to_be_visible()
    jump.click()
    page.wait_for_function(at_bottom, arg=scroller.element_handle())
    expect(jump).to_be_hidden()
    page.get_by_test_id("stop").click()


def test_a_long_answer_rendered_by_blocks_looks_as_a_reload_renders_it(new_chat: Page) -> None:
    """Blocks are rendered while the answer streams; the page it ends with is the stored turn's, element for element."""
    page = new_chat
    page.evaluate(WATCH_LIVE_TEXT, 0)
    send(page, "/stream 1500 at 3000")
    wait_turn_done(page, 0)
    assert page.evaluate("Math.max(...window.__lengths.map(s => s[0]))") >= 10, "blocks appeared while it streamed"
    live = page.locator("#assistant-0").inner_html()
    assert page.locator("#assistant-0 pre.code-block").count() >= 1
    page.reload()
    wait_socket(page)
    assert tidy(page.locator("#assistant-0").inner_html()) == tidy(live)
