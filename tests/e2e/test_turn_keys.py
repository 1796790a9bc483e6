"""The conversation is one tab stop; the arrow keys move inside it (issue 18, keyboard)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.helpers import converse, py

IN_TURNS = "document.getElementById('chat-turns').contains(document.activeElement)"
FOCUSED = "(() => { const a = document.activeElement; return a.dataset.testid || a.textContent.trim().slice(0, 30); })()"


def test_the_turn_list_is_one_tab_stop_and_arrows_move_inside_it(new_chat: Page) -> None:
    page = new_chat
    converse(page, "Tell me about rivers", py("print(6 * 7)"))
    page.locator("#chat-input").focus()
    # Backwards from the message box: one stop in the conversation, then out of it.
    stops = []
    for _ in range(40):
        page.keyboard.press("Shift+Tab")
        if page.evaluate(IN_TURNS):
            stops.append(page.evaluate(FOCUSED))
        elif stops:
            break
    assert len(stops) == 1, f"every control of the conversation was a tab stop: {stops}"
    # Inside, the arrows move between its controls; Tab then leaves at once, and Shift+Tab comes back to the same one.
    page.keyboard.press("Tab")
    assert page.evaluate(IN_TURNS)
    page.keyboard.press("Home")
    expect(page.get_by_test_id("edit-0")).to_be_focused()  # the first turn's first control
    page.keyboard.press("ArrowDown")
    expect(page.get_by_test_id("edit-0")).not_to_be_focused()
    assert page.evaluate(IN_TURNS)
    second = page.evaluate(FOCUSED)
    page.keyboard.press("ArrowUp")
    expect(page.get_by_test_id("edit-0")).to_be_focused()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    assert not page.evaluate(IN_TURNS), "Tab leaves the conversation from any of its controls"
    page.keyboard.press("Shift+Tab")
    assert page.evaluate(IN_TURNS) and page.evaluate(FOCUSED) == second, "and comes back to the control used last"
