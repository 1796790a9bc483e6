"""The chat sidebar on wide screens: chats by date, pin, archive and restore, rename in place, delete, arrow keys,
folded away and remembered; phones keep the chats menu."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import wait_socket
from tests.e2e.helpers import chat_id_of, converse, screenshots, send, wait_turn_done
from tests.e2e.server import Server

SCREENSHOTS = screenshots()


def test_pin_archive_restore_and_rename_from_the_sidebar(new_chat: Page) -> None:
    page = new_chat
    page.set_viewport_size({"width": 1280, "height": 800})
    converse(page, "Tell me about rivers")
    first = chat_id_of(page)
    page.get_by_test_id("new-chat").click()
    wait_socket(page)
    converse(page, "Tell me about glaciers")
    second = chat_id_of(page)
    page.reload()
    wait_socket(page)
    bar = page.get_by_test_id("chat-sidebar")
    expect(bar).to_be_visible()
    today = bar.get_by_test_id("group-Today")
    expect(today).to_be_visible()
    expect(bar.get_by_test_id(f"sidebar-chat-{second}")).to_have_attribute("aria-current", "page")
    links = bar.locator(".sidebar-link")
    assert links.nth(0).get_attribute("data-testid") == f"sidebar-chat-{second}", "newest first"

    bar.get_by_test_id(f"pin-{first}").click()  # pinned: at the top, under its own heading
    expect(bar.get_by_test_id("group-Pinned")).to_be_visible()
    expect(links.nth(0)).to_have_attribute("data-testid", f"sidebar-chat-{first}")
    expect(bar.get_by_test_id(f"pin-{first}")).to_have_text("Unpin")

    bar.get_by_test_id(f"sidebar-chat-{first}").focus()  # arrow keys move between chats
    page.keyboard.press("ArrowDown")
    expect(bar.get_by_test_id(f"sidebar-chat-{second}")).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(bar.get_by_test_id(f"sidebar-chat-{first}")).to_be_focused()

    bar.get_by_test_id(f"rename-{first}").click()  # rename in place
    field = bar.locator(f"li[data-chat-id='{first}'] input[name=title]")
    field.fill("River notes")
    bar.get_by_test_id(f"rename-save-{first}").click()
    expect(bar.get_by_test_id(f"sidebar-chat-{first}")).to_have_text("River notes")
    page.screenshot(path=str(SCREENSHOTS / "sidebar.png"))

    bar.get_by_test_id(f"archive-{first}").click()  # out of the list, still found by search
    expect(bar.get_by_test_id(f"sidebar-chat-{first}")).to_have_count(0)
    page.get_by_test_id("chat-menu").click()
    page.get_by_test_id("chat-search").fill("River notes")
    expect(page.get_by_test_id(f"search-result-{first}")).to_be_visible()
    page.keyboard.press("Escape")
    bar.get_by_test_id("show-archived").click()
    bar.get_by_test_id(f"restore-{first}").click()
    expect(bar.get_by_test_id(f"sidebar-chat-{first}")).to_have_count(0)  # gone from the archived list
    bar.get_by_test_id("sidebar-back").click()
    expect(bar.get_by_test_id(f"sidebar-chat-{first}")).to_be_visible()

    bar.get_by_test_id(f"sidebar-delete-{first}").click()  # the usual confirmation, for that chat
    page.get_by_test_id("confirm-delete").click()
    page.wait_for_load_state()
    expect(page.get_by_test_id("chat-sidebar").get_by_test_id(f"sidebar-chat-{first}")).to_have_count(0)


LONG_TITLE = "Quarterly river discharge measurements along the upper and lower reaches, cleaned and compared"
BOXES = """id => {
    const box = el => el.getBoundingClientRect();
    const item = document.querySelector(`#sidebar-list li[data-chat-id="${id}"]`);
    return {item: box(item), title: box(item.querySelector('.sidebar-link .truncate')),
            badge: box(item.querySelector(`[data-testid="running-${id}"]`)),
            actions: box(item.querySelector('.sidebar-actions')),
            shown: getComputedStyle(item.querySelector('.sidebar-actions')).opacity};
}"""


def test_a_long_title_and_its_writing_badge_stay_inside_the_sidebar(new_chat: Page, server: Server) -> None:
    page = new_chat
    page.set_viewport_size({"width": 1280, "height": 800})
    k = chat_id_of(page)
    send(page, f"/stream 400 at 40 until side-{k}")  # held open: the badge stays while the test looks
    bar = page.get_by_test_id("chat-sidebar")
    expect(bar.get_by_test_id(f"running-{k}")).to_be_visible()  # the list redrawn for the run: rename after it
    bar.get_by_test_id(f"rename-{k}").click()
    bar.locator(f"li[data-chat-id='{k}'] input[name=title]").fill(LONG_TITLE)
    bar.get_by_test_id(f"rename-save-{k}").click()
    expect(bar.get_by_test_id(f"running-{k}")).to_be_visible()
    page.mouse.move(900, 400)  # off the sidebar: the entry's actions are hidden
    page.evaluate("document.activeElement?.blur()")
    boxes = page.evaluate(BOXES, k)
    item, title, badge = boxes["item"], boxes["title"], boxes["badge"]
    assert boxes["shown"] == "0"
    assert badge["right"] <= item["right"] + 0.5, f"the badge ends inside its entry: {badge} in {item}"
    assert title["right"] <= badge["left"], "the title is cut before the badge, not under it"
    assert title["width"] >= item["width"] / 2, f"the title keeps most of the row while the actions hide: {title}"
    bar.get_by_test_id(f"sidebar-chat-{k}").hover()  # the actions show over the entry's end, inside it
    expect(bar.get_by_test_id(f"pin-{k}")).to_have_css("opacity", "1")
    actions = page.evaluate(BOXES, k)["actions"]
    assert item["left"] <= actions["left"] and actions["right"] <= item["right"] + 0.5, f"{actions} in {item}"
    page.screenshot(path=str(SCREENSHOTS / "sidebar-long-title.png"))
    (server.data / "gates" / f"side-{k}").touch()
    wait_turn_done(page, 0, 60_000)
    expect(bar.get_by_test_id(f"running-{k}")).to_have_count(0)  # the answer ended: nothing is being written there


def renaming_while_titled(page: Page, typed: str | None = None) -> tuple[int, Locator, Locator]:
    """The user opens the sidebar's rename of a new chat (and types `typed` there), then sends its first message: its automatic
    titles come meanwhile. The chat's id, the sidebar, and the rename field."""
    page.set_viewport_size({"width": 1280, "height": 800})
    k = chat_id_of(page)
    bar = page.get_by_test_id("chat-sidebar")
    bar.get_by_test_id(f"rename-{k}").click()
    field = bar.locator(f"li[data-chat-id='{k}'] input[name=title]")
    if typed is not None:
        field.fill(typed)
    send(page, "Tell me about glaciers and how they move")
    wait_turn_done(page, 0)  # both automatic titles (the quick one and the model's) have come by now
    expect(bar.locator("#sidebar-list")).to_have_attribute("data-stale", "true")  # the redraw waits for the user
    return k, bar, field


def test_a_title_that_arrives_while_the_user_renames_in_the_sidebar_waits_for_them(new_chat: Page) -> None:
    page = new_chat
    k, bar, field = renaming_while_titled(page, "Field notes")
    expect(page.get_by_test_id("chat-title-text")).to_have_text(re.compile(r"^Glaciers"))
    expect(field).to_be_visible()
    expect(field).to_have_value("Field notes")
    field.press("Escape")  # they give up: the list is redrawn with the chat's new title
    expect(bar.get_by_test_id(f"sidebar-chat-{k}")).to_have_text(re.compile(r"^Glaciers"))
    expect(bar.locator("#sidebar-list")).not_to_have_attribute("data-stale", "true")
    expect(bar.get_by_test_id(f"rename-{k}")).to_be_focused()  # the keyboard is where it was, on that chat


def test_a_sidebar_redraw_that_fails_after_escape_leaves_the_keyboard_where_the_user_puts_it(new_chat: Page) -> None:
    page = new_chat
    k, bar, field = renaming_while_titled(page)
    page.route("**/chat/sidebar*", lambda route: route.fulfill(status=503, body="busy"), times=1)
    with page.expect_response(lambda resp: "/chat/sidebar" in resp.url and resp.status == 503):
        field.press("Escape")  # the redraw it asks for fails (the server is busy)
    page.locator("#chat-input").click()  # the user goes on typing
    page.keyboard.type("and glaciers")
    page.evaluate("htmx.trigger(document.body, 'sidebar-refresh')")  # a later redraw (a pin, a title) succeeds
    expect(bar.get_by_test_id(f"sidebar-chat-{k}")).to_have_text(re.compile(r"^Glaciers"))
    expect(page.locator("#chat-input")).to_be_focused()
    expect(page.locator("#chat-input")).to_have_value("and glaciers")


def test_the_sidebar_folds_away_and_stays_so_and_phones_keep_the_menu(new_chat: Page) -> None:
    page = new_chat
    page.set_viewport_size({"width": 1280, "height": 800})
    bar = page.get_by_test_id("chat-sidebar")
    expect(bar.locator("#sidebar-list")).to_be_visible()
    page.get_by_test_id("sidebar-toggle").click()
    expect(bar.locator("#sidebar-list")).to_be_hidden()
    page.reload()
    wait_socket(page)
    expect(page.get_by_test_id("chat-sidebar")).to_have_attribute("data-collapsed", "true")
    expect(page.locator("#sidebar-list")).to_be_hidden()
    page.get_by_test_id("sidebar-toggle").click()
    expect(page.locator("#sidebar-list")).to_be_visible()
    page.set_viewport_size({"width": 390, "height": 760})
    expect(page.get_by_test_id("chat-sidebar")).to_be_hidden()
    expect(page.get_by_test_id("chat-menu")).to_be_visible()
