"""What users of the well-known chat apps missed (issue 18): regenerate, honest edits, a shortcuts sheet."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.helpers import converse, wait_turn_done


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


def test_save_and_regenerate_says_how_many_later_turns_it_removes(new_chat: Page) -> None:
    page = new_chat
    converse(page, "Tell me about rivers", "Tell me about lakes", "Tell me about seas", "Tell me about oceans")
    page.get_by_test_id("edit-0").click()
    expect(page.get_by_test_id("save-edit-0")).to_have_text("Save & regenerate (removes 3 later turns)")
    page.keyboard.press("Escape")
    page.get_by_test_id("edit-2").click()
    expect(page.get_by_test_id("save-edit-2")).to_have_text("Save & regenerate (removes 1 later turn)")
    page.keyboard.press("Escape")
    page.get_by_test_id("edit-3").click()
    expect(page.get_by_test_id("save-edit-3")).to_have_text("Save & regenerate")


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
