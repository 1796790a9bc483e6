"""The open block of a streaming answer is shown rendered, never as raw markdown (issue 18)."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.e2e.conftest import wait_socket
from tests.e2e.helpers import WATCH_TAIL, send, tidy, wait_turn_done


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


# The most loose steps and quoted paragraphs the open block showed at once while it streamed.
MOST_IN_TAIL = """() => {
  window.__most = {steps: 0, quote: 0};
  new MutationObserver(() => {
    const tail = document.querySelector('#assistant-0 .assistant-text > [id^="part-"]');
    if (!tail) return;
    window.__most.steps = Math.max(window.__most.steps, tail.querySelectorAll('ol > li > p').length);
    window.__most.quote = Math.max(window.__most.quote, tail.querySelectorAll('blockquote > p').length);
  }).observe(document.getElementById('chat-turns'), {childList: true, subtree: true, characterData: true});
}"""


def test_steps_and_a_quote_of_paragraphs_show_rendered_as_they_stream_and_as_a_reload_shows_them(new_chat: Page) -> None:
    page = new_chat
    # A loose list (a blank line between steps, sub-points in each) and a quote of three paragraphs: each grows by
    # its pieces, and a loose list's items are all rendered again once it loosens (ui/open_block.py).
    page.evaluate(WATCH_TAIL, [r"[*`#>]|^\s*(?:[-+]|\d+\.)\s", "strong, code, li, blockquote"])
    page.evaluate(MOST_IN_TAIL)
    send(page, "Explain step by step how glaciers move")
    wait_turn_done(page, 0, timeout=60_000)
    assert page.evaluate("window.__raw") == [], "markup characters showed while their block was open"
    rendered = set(page.evaluate("[...window.__rendered]"))
    assert {"STRONG", "CODE", "LI", "BLOCKQUOTE"} <= rendered, f"the open block is rendered as it streams: {rendered}"
    # While open, every settled piece is on the page with the open one (the finished block replaces them all).
    assert page.evaluate("window.__most") == {"steps": 12, "quote": 3}
    answer = page.locator("#assistant-0")
    assert answer.locator("ol > li > p > strong").count() == 12, "twelve steps, each a loose item's paragraph"
    assert answer.locator("blockquote > p").count() == 3
    live = answer.inner_html()
    page.reload()
    wait_socket(page)
    assert tidy(page.locator("#assistant-0").inner_html()) == tidy(live)
