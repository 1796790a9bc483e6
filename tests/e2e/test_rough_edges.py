"""Rough edges a first-time user hit (issue 18): Esc, drafts, tabs, phones, titles, keyboard (scrolling: test_following.py)."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import WS_FLAG, wait_socket
from tests.e2e.helpers import chat_id_of, phone, py, send, wait_idle, wait_running, wait_turn_done
from tests.e2e.server import Server
from varro.shell.snapshots import FOLDER


def test_escape_closes_the_innermost_open_thing_and_stops_an_answer_only_when_nothing_is_open(new_chat: Page) -> None:
    page = new_chat
    send(page, "/stream 3000 at 100")
    wait_running(page)
    page.get_by_test_id("chat-title-text").click()
    expect(page.locator("#chat-title input[name=title]")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#chat-title input[name=title]")).to_be_hidden()
    expect(page.get_by_test_id("chat-title-text")).to_be_focused()
    page.get_by_test_id("delete-chat").click()
    expect(page.locator("#delete-dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#delete-dialog")).to_be_hidden()
    page.get_by_test_id("more-menu").click()
    expect(page.get_by_test_id("export-md")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("export-md")).to_be_hidden()
    page.wait_for_timeout(300)
    expect(page.locator("#progress")).to_have_attribute("data-running", "true")
    page.locator("#chat-input").focus()
    page.keyboard.press("Escape")
    wait_idle(page)
    expect(page.get_by_test_id("stopped-0")).to_be_visible()


def test_a_too_long_message_keeps_the_draft_and_says_how_much_too_long(new_chat: Page) -> None:
    page = new_chat
    draft = "word " * 4010  # 20,050 characters; the limit is 20,000
    page.locator("#chat-input").fill(draft)
    page.locator("#chat-input").press("Enter")
    expect(page.locator("#chat-notices [role=alert]")).to_contain_text("50 characters too long")
    expect(page.locator("#chat-input")).to_have_value(draft)
    expect(page.locator("#turn-0")).to_have_count(0)
    expect(page.get_by_test_id("send")).to_be_enabled()


def test_save_and_regenerate_while_an_answer_runs_says_why_it_waits(new_chat: Page) -> None:
    page = new_chat
    send(page, "Tell me about rivers")
    wait_turn_done(page, 0)
    send(page, "/stream 3000 at 100")
    wait_running(page)
    page.locator("#chat-scroll").hover()
    page.mouse.wheel(0, -100_000)  # up to the first message, as the user must to reach its Edit
    page.wait_for_function("() => document.getElementById('chat-scroll').scrollTop === 0", timeout=15_000)
    page.get_by_test_id("edit-0").click()
    page.get_by_test_id("save-edit-0").click()
    expect(page.locator("#chat-notices [role=alert]")).to_contain_text("still being written")
    expect(page.locator("#turn-1")).to_have_count(1)
    page.get_by_test_id("stop").click()  # answers outlive their page now: leave none running for the next test
    wait_idle(page)


def test_a_replaced_tab_that_sends_says_it_is_not_the_live_tab(browser: Browser, server: Server) -> None:
    context = browser.new_context()
    context.add_init_script(WS_FLAG)
    first = context.new_page()
    first.goto(f"{server.url}/chat")
    first.get_by_test_id("new-chat").click()
    wait_socket(first)
    second = context.new_page()
    second.goto(first.url)
    wait_socket(second)
    expect(first.get_by_test_id("take-back")).to_be_visible()
    first.locator("#chat-notices").evaluate("(n) => n.replaceChildren()")  # read and dismissed
    send(first, "Are you there?")
    alert = first.locator("#chat-notices [role=alert]")
    expect(alert).to_contain_text("not the live tab")
    expect(first.get_by_test_id("take-back")).to_be_visible()
    expect(first.locator("#progress")).to_have_attribute("data-running", "false")
    expect(first.get_by_test_id("send")).to_be_visible()
    expect(first.locator("#chat-input")).to_have_value("Are you there?")
    first.get_by_test_id("take-back").click()
    wait_socket(first)
    send(first, "Are you there?")
    wait_turn_done(first, 0)
    context.close()


def test_on_a_touch_phone_enter_is_a_new_line_and_the_button_sends(browser: Browser, server: Server) -> None:
    context, page = phone(browser, server)
    page.locator("#chat-input").tap()
    page.keyboard.type("first line")
    page.keyboard.press("Enter")
    page.keyboard.type("second line")
    expect(page.locator("#chat-input")).to_have_value("first line\nsecond line")
    expect(page.locator("#turn-0")).to_have_count(0)
    page.get_by_test_id("send").tap()
    expect(page.get_by_test_id("user-text-0")).to_have_text("first line\nsecond line")
    wait_turn_done(page, 0)  # answers outlive their page now: leave none running for the next test
    context.close()


def test_the_status_says_writing_once_text_streams(new_chat: Page) -> None:
    page = new_chat
    send(page, "/stream 1500 at 150")
    expect(page.locator("#progress")).to_contain_text("Writing…")
    expect(page.locator("#progress")).to_have_attribute("data-running", "true")
    page.get_by_test_id("stop").click()
    wait_idle(page)


def test_the_browser_tab_title_follows_the_auto_title_and_a_rename(new_chat: Page) -> None:
    page = new_chat
    send(page, "Tell me about glaciers and how they move")
    wait_turn_done(page, 0)
    expect(page).to_have_title(re.compile(r"^Glaciers.* · Varro$"))
    page.get_by_test_id("chat-title-text").click()
    page.locator("#chat-title input[name=title]").fill("Ice notes")
    page.get_by_test_id("rename-save").click()
    expect(page).to_have_title("Ice notes · Varro")


def test_long_titles_end_in_an_ellipsis_and_leave_room_for_the_rest(browser: Browser, server: Server) -> None:
    context, page = phone(browser, server)
    page.get_by_test_id("chat-title-text").tap()
    page.locator("#chat-title input[name=title]").fill("Rivers")
    page.get_by_test_id("rename-save").tap()
    expect(page.get_by_test_id("chat-title-text")).to_have_text("Rivers")
    short = page.get_by_test_id("chat-title-text").locator(".title-text")
    assert short.evaluate("(e) => e.scrollWidth <= e.clientWidth"), "a short title shows whole beside the shell badge"
    page.get_by_test_id("chat-title-text").tap()
    long_title = "A very long title about the migration of arctic terns across the whole globe"
    page.locator("#chat-title input[name=title]").fill(long_title)
    page.get_by_test_id("rename-save").tap()
    title = page.get_by_test_id("chat-title-text")
    expect(title).to_have_text(long_title)
    label = title.locator(".title-text")
    assert label.evaluate("(e) => getComputedStyle(e).textOverflow") == "ellipsis"
    assert label.evaluate("(e) => e.scrollWidth > e.clientWidth"), "the long title is clipped, with an ellipsis"
    badge, box = page.get_by_test_id("shell-status").bounding_box(), title.bounding_box()
    assert badge and box and box["x"] + box["width"] <= badge["x"], "the shell badge sits beside the title, not on it"
    page.get_by_test_id("chat-menu").tap()
    entry = page.get_by_test_id(f"chat-link-{chat_id_of(page)}")
    when = entry.locator(".chat-when")
    expect(when).to_have_text("just now")
    entry_box, when_box = entry.bounding_box(), when.bounding_box()
    assert entry_box and when_box and when_box["x"] + when_box["width"] <= entry_box["x"] + entry_box["width"] + 1
    context.close()


def test_keyboard_focus_skip_link_chat_menu_and_editor(new_chat: Page) -> None:
    page = new_chat
    expect(page.locator("#chat-input")).to_be_focused()  # type at once after load
    send(page, "Tell me about rivers")
    wait_turn_done(page, 0)
    # The first stop from the top of the page is a skip link to the message box, shown when focused.
    first = page.evaluate("document.querySelector('a[href], button, input:not([type=hidden]), textarea').dataset.testid")
    assert first == "skip-link"
    skip = page.get_by_test_id("skip-link")
    skip.focus()
    expect(skip).to_be_visible()
    assert skip.bounding_box()["width"] > 20
    page.keyboard.press("Enter")
    expect(page.locator("#chat-input")).to_be_focused()
    # The chats menu is a menu button: Enter opens it with focus in its search, arrows move, Esc closes and returns.
    menu = page.get_by_test_id("chat-menu")
    menu.focus()
    expect(page.locator("#chat-menu-list")).to_be_hidden()  # focus alone opens nothing
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_test_id("chat-search")).to_be_focused()
    current = page.get_by_test_id(f"chat-link-{chat_id_of(page)}")
    expect(current).to_be_visible()
    expect(page.locator("#chat-menu-list")).to_have_attribute("role", "menu")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#chat-menu-list [role=menuitem]").first).to_be_focused()
    page.keyboard.press("End")
    expect(page.locator("#chat-menu-list [role=menuitem]").last).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#chat-menu-list")).to_be_hidden()
    expect(menu).to_be_focused()
    expect(menu).to_have_attribute("aria-expanded", "false")
    # Esc in the message editor gives focus back to its Edit button.
    page.get_by_test_id("edit-0").click()
    expect(page.locator("#user-0 textarea")).to_be_focused()  # the editor is open: Esc is meant for it
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("edit-0")).to_be_focused()


def test_a_deleted_chats_address_shows_a_page_with_a_way_back(new_chat: Page, server: Server) -> None:
    page = new_chat
    gone = page.url
    page.get_by_test_id("delete-chat").click()
    page.get_by_test_id("confirm-delete").click()
    page.wait_for_load_state()
    response = page.goto(gone)
    assert response is not None and response.status == 404
    expect(page.get_by_text("This chat is not here")).to_be_visible()
    page.get_by_test_id("back-to-chats").click()
    wait_socket(page)
    expect(page.locator("#chat-input")).to_be_visible()


CONTRAST = """(el) => {
  const canvas = document.createElement('canvas');
  canvas.width = canvas.height = 1;
  const ctx = canvas.getContext('2d', {willReadFrequently: true});
  const rgba = (css) => { ctx.clearRect(0, 0, 1, 1); ctx.fillStyle = css; ctx.fillRect(0, 0, 1, 1);
                          return [...ctx.getImageData(0, 0, 1, 1).data]; };
  let alpha = 1;
  for (let e = el; e; e = e.parentElement) alpha *= Number(getComputedStyle(e).opacity);
  const fg = rgba(getComputedStyle(el).color), bg = rgba(getComputedStyle(document.getElementById('chat')).backgroundColor);
  const a = alpha * fg[3] / 255;
  const mixed = [0, 1, 2].map((i) => fg[i] * a + bg[i] * (1 - a));
  const lum = (c) => { const [r, g, b] = c.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
                       return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const [hi, lo] = [lum(mixed), lum(bg)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}"""


def test_the_meta_line_is_readable_in_the_light_theme(new_chat: Page) -> None:
    page = new_chat
    page.evaluate("document.documentElement.setAttribute('data-theme', 'light')")
    send(page, "A quick one")
    wait_turn_done(page, 0)
    page.wait_for_timeout(400)  # colour transitions
    ratio = page.locator("#meta-0 span").last.evaluate(CONTRAST)
    assert ratio >= 4.5, f"meta line contrast {ratio:.2f}:1"


def test_touch_targets_are_44_px_and_code_copy_does_not_cover_code(browser: Browser, server: Server) -> None:
    context, page = phone(browser, server)
    page.locator("#chat-input").fill("Explain list comprehensions")
    page.get_by_test_id("send").tap()
    wait_turn_done(page, 0)
    small = page.evaluate("""() => [...document.querySelectorAll('#chat button, #chat [role=button], #chat a.btn')]
        .filter((b) => b.getClientRects().length && getComputedStyle(b).visibility !== 'hidden')
        .map((b) => [b.getAttribute('aria-label') || b.textContent.trim(), b.getBoundingClientRect()])
        .filter(([, r]) => r.width > 0 && (r.width < 44 || r.height < 44))
        .map(([name, r]) => `${name}: ${Math.round(r.width)}x${Math.round(r.height)}`)""")
    assert small == []
    pre = page.locator("#assistant-0 .code-wrap pre").first
    copy = page.locator("#assistant-0 .code-wrap [data-action=copy-code]").first
    pre_box, copy_box = pre.bounding_box(), copy.bounding_box()
    assert pre_box and copy_box and copy_box["y"] + copy_box["height"] <= pre_box["y"] + 1, "Copy sits above the code"
    context.close()


# The right edge of a code block's text, from its characters' own boxes (a Range), not from the block's.
CODE_RIGHT = """(pre) => { const r = document.createRange(); r.selectNodeContents(pre.querySelector('code') || pre);
  return Math.max(...[...r.getClientRects()].map((b) => b.right)); }"""


def test_a_short_line_of_code_is_not_covered_by_its_buttons(new_chat: Page) -> None:
    page = new_chat
    send(page, "```python\nprint(df['total'].sum())\n```")  # one line in the user's narrow bubble, and a cell
    wait_turn_done(page, 0)
    for where in ("#user-0", "#assistant-0 .tool-call"):
        wrap = page.locator(f"{where} .code-wrap").first
        actions = wrap.locator(".code-actions").bounding_box()
        assert actions is not None
        right = wrap.locator("pre").evaluate(CODE_RIGHT)
        assert right <= actions["x"], f"{where}: the code runs under its buttons ({right:.0f} > {actions['x']:.0f})"



def test_copy_answer_copies_the_markdown_as_written(new_chat: Page, context: BrowserContext) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = new_chat
    send(page, "Explain list comprehensions")
    wait_turn_done(page, 0)
    page.locator("#assistant-0 [data-action=copy-answer]").last.click()
    expect(page.locator("#assistant-0 [data-action=copy-answer]").last).to_contain_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("## "), "the heading as markdown"
    assert "```python" in copied and "`" in copied
    assert "\nCopy\n" not in copied and not copied.rstrip().endswith("Copy")


def test_markdown_export_closes_a_stopped_fence_and_nests_answer_headings(new_chat: Page) -> None:
    page = new_chat
    send(page, "/stream 3000 at 40")
    # Stop while a code block is open in the live tail.
    page.wait_for_function("""() => [...document.querySelectorAll('#assistant-0 [id^="part-"]')]
        .some((p) => p.querySelector('pre.live-code'))""", timeout=60_000)  # rendered provisionally
    page.get_by_test_id("stop").click()
    wait_turn_done(page, 0)
    page.get_by_test_id("more-menu").click()
    with page.expect_download() as download:
        page.get_by_test_id("export-md").click()
    lines = Path(download.value.path()).read_text().splitlines()
    fences = [line for line in lines if line.startswith("```")]
    assert len(fences) % 2 == 0, "every fence is closed"
    top = [line for line in lines if re.match(r"#{1,2} ", line)]
    assert top[1:] == ["## You", "## Varro"], "the answer's headings sit below the turn's"
    assert any(line.startswith("#### Streaming") for line in lines)


def test_the_restore_notice_names_turns_as_the_page_shows_them_and_survives_a_reload(new_chat: Page,
                                                                                    server: Server) -> None:
    page = new_chat
    send(page, py("import random\nroll = random.random()\nprint(roll)"))
    wait_turn_done(page, 0)
    first = page.url
    # This chat's kernel must go and its restore must find no snapshot: two other chats with code push its kept kernel
    # out (two kernels a user, live and kept), and its snapshots are removed.
    for _ in range(2):
        page.get_by_test_id("new-chat").click()
        wait_socket(page)
        send(page, py("print(1)"))
        wait_turn_done(page, 0)
    for snapshot in (server.kernels / "chats" / "main").glob(f"*/{first.rsplit('/', 1)[1]}/{FOLDER}/*"):
        snapshot.unlink()
    page.goto(first)
    wait_socket(page)
    send(page, py("print(roll)"))  # no snapshot: the shell starts empty, and turn 0's cell is offered, not run
    wait_turn_done(page, 1)
    offer = page.locator("#assistant-1").get_by_test_id("notice").filter(has=page.get_by_test_id("rerun-cells"))
    expect(offer).to_contain_text("Nothing ran again on its own")
    expect(offer).not_to_contain_text("turn 1")
    ref = offer.get_by_test_id("notice-ref-0")
    expect(ref).to_contain_text("“```python import random")
    expect(ref).to_have_attribute("href", "#turn-0")
    offer.get_by_test_id("rerun-cells").click()  # asked: turn 0 runs again, and rolls differently
    differs = page.locator("#assistant-1").get_by_test_id("notice").filter(has_text="differs")
    expect(differs.get_by_test_id("notice-ref-0")).to_have_attribute("href", "#turn-0")
    page.reload()
    wait_socket(page)
    expect(page.locator("#assistant-1").get_by_test_id("notice-ref-0")).to_be_visible()  # the offer, kept with its turn


def test_editing_the_first_message_renames_a_chat_named_after_it_but_not_one_the_user_named(new_chat: Page) -> None:
    page = new_chat
    title = page.get_by_test_id("chat-title-text")
    send(page, "Tell me about glaciers")
    wait_turn_done(page, 0)
    expect(title).to_have_text(re.compile("^Glaciers"))
    page.get_by_test_id("edit-0").click()
    page.locator("#user-0 textarea").fill("Tell me about volcanoes")
    page.get_by_test_id("save-edit-0").click()
    wait_turn_done(page, 0)
    expect(title).to_have_text(re.compile("^Volcanoes"))
    expect(page).to_have_title(re.compile("^Volcanoes"))
    title.click()
    page.locator("#chat-title input[name=title]").fill("My notes")
    page.get_by_test_id("rename-save").click()
    expect(title).to_have_text("My notes")
    page.get_by_test_id("edit-0").click()
    page.locator("#user-0 textarea").fill("Tell me about deserts")
    page.get_by_test_id("save-edit-0").click()
    wait_turn_done(page, 0)
    page.wait_for_timeout(1000)
    expect(title).to_have_text("My notes")
