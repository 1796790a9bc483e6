"""Sharing a chat: the link opens in a browser with no session, shows the chat read-only, and stops working once
revoked."""

from __future__ import annotations

import time

from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import WS_FLAG, wait_socket
from tests.e2e.helpers import chat_id_of, converse, py, screenshots, send, wait_turn_done
from tests.e2e.server import Server

SCREENSHOTS = screenshots()


def test_a_shared_link_opens_without_a_session_read_only_and_revoked_is_gone(new_chat: Page, browser: Browser) -> None:
    page = new_chat
    converse(page, "Tell me about rivers", "Tell me about deltas")
    page.get_by_test_id("more-menu").click()
    page.get_by_test_id("share-chat").click()
    dialog = page.get_by_test_id("share-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_test_id("create-share").click()
    link = dialog.get_by_test_id("share-link")
    expect(link).to_have_count(1)
    url = link.input_value()
    page.screenshot(path=str(SCREENSHOTS / "share.png"))
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    converse(page, "Tell me about estuaries", first=2)  # after sharing: not in the link

    stranger = browser.new_context(viewport={"width": 1280, "height": 800})  # no cookie, no session
    stranger.add_init_script(WS_FLAG)
    shared = stranger.new_page()
    response = shared.goto(url)
    assert response is not None and response.status == 200
    expect(shared.get_by_test_id("shared-page")).to_be_visible()
    expect(shared.get_by_test_id("user-text-1")).to_have_text("Tell me about deltas")
    expect(shared.get_by_test_id("user-text-2")).to_have_count(0)
    expect(shared.locator("#chat-input")).to_have_count(0)
    expect(shared.get_by_test_id("edit-0")).to_be_hidden()
    expect(shared.locator('meta[name="robots"]')).to_have_attribute("content", "noindex, nofollow")
    shared.screenshot(path=str(SCREENSHOTS / "shared.png"))

    page.get_by_test_id("more-menu").click()
    page.get_by_test_id("share-chat").click()
    dialog.locator("[data-testid^=revoke-share-]").click()
    expect(dialog.get_by_test_id("share-link")).to_have_count(0)
    response = shared.goto(url)
    assert response is not None and response.status == 404
    stranger.close()


def test_continue_in_my_chats_copies_the_chat_with_its_shell(new_chat: Page, server: Server) -> None:
    """A link that includes the chat's Python state: "Continue in my chats" makes a copy whose shell comes back from
    the copied snapshot (the same random number, nothing offered to run again)."""
    page = new_chat
    send(page, py("import random\nr = random.random()\nprint(r)"))
    wait_turn_done(page, 0)
    drawn = page.locator("#assistant-0 .tool-result pre").last.inner_text().strip().splitlines()[-1]
    owner_chat = chat_id_of(page)
    snapshots = server.kernels / "chats" / "main"
    deadline = time.monotonic() + 60  # the snapshot is written just after the turn ends: wait for it, not a guess
    while not list(snapshots.glob(f"*/{owner_chat}/.snapshots/by-id/turn-*.pkl")):
        assert time.monotonic() < deadline, "the turn's snapshot was never written"
        time.sleep(0.1)
    page.get_by_test_id("more-menu").click()
    page.get_by_test_id("share-chat").click()
    dialog = page.get_by_test_id("share-dialog")
    dialog.get_by_test_id("share-files").check()
    dialog.get_by_test_id("create-share").click()
    url = dialog.get_by_test_id("share-link").input_value()
    page.keyboard.press("Escape")

    page.goto(url)  # signed in: the shared page offers a copy
    page.get_by_test_id("continue-shared").click()
    wait_socket(page)
    assert chat_id_of(page) != owner_chat
    expect(page.get_by_test_id("user-text-0")).to_contain_text("import random")
    send(page, py("print(r)"))
    wait_turn_done(page, 1)
    assert page.locator("#assistant-1 .tool-result pre").last.inner_text().strip().splitlines()[-1] == drawn
    expect(page.get_by_test_id("rerun-cells")).to_have_count(0)
