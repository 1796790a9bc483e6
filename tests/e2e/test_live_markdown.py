"""The open block of a streaming answer is shown rendered, never as raw markdown (issue 18)."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.e2e.helpers import WATCH_TAIL, send, wait_turn_done


def test_the_open_block_shows_no_markup_its_finished_block_hides(new_chat: Page) -> None:
    page = new_chat
    # Emphasis and code spans (*, `), headings (#), list markers at a line's start.
    page.evaluate(WATCH_TAIL, [r"[*`#]|^\s*(?:[-+]|\d+\.)\s", "strong, em, code, pre, li, h2, h3"])
    # The demo's mixed markdown: bold, italics and code spans in prose, lists, headings, python fences.
    send(page, "/stream 700 at 250")
    wait_turn_done(page, 0, timeout=60_000)
    assert page.evaluate("window.__raw") == [], "markup characters showed while their block was open"
    rendered = set(page.evaluate("[...window.__rendered]"))
    assert {"STRONG", "CODE", "PRE", "LI"} <= rendered, f"the open block is rendered as it streams: {rendered}"
    final = page.locator("#assistant-0 .assistant-text").last
    assert not set(final.inner_text()) & set("*`#"), "and the finished blocks show none either"
