"""Maths typeset as MathML, while the answer streams and once it is finished (issue 18)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.conftest import wait_socket
from tests.e2e.helpers import WATCH_TAIL, send, wait_turn_done


def test_maths_is_typeset_live_and_finished(new_chat: Page) -> None:
    page = new_chat
    page.evaluate(WATCH_TAIL, [r"\$(?!5)|\\[(\[]", "math"])  # TeX delimiters (a price of $5 is text)
    send(page, "Show me the formula for the mean")
    wait_turn_done(page, 0)
    assert page.evaluate("window.__raw") == [], "TeX delimiters showed while the formula streamed"
    assert page.evaluate("[...window.__rendered]") == ["MATH"], "a formula is typeset while its block is open"
    answer = page.locator("#assistant-0 .assistant-text").last
    expect(answer.locator("math")).to_have_count(5)
    expect(answer.locator('math[display="block"]')).to_have_count(2)
    assert "$5" in answer.inner_text() and "\\frac" not in answer.inner_text()
    # MathML is laid out by the browser: a fraction is taller than a line of text.
    box = answer.locator('math[display="block"]').first.bounding_box()
    assert box and box["height"] > 30
    page.reload()
    wait_socket(page)
    expect(page.locator("#assistant-0 .assistant-text math")).to_have_count(5)
