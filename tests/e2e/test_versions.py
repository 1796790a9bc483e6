"""Versions instead of deletion: an edit or a regeneration keeps the earlier version and its branch, "‹ i/n ›" under
the turn switches between them (the page drops what follows the turn and the server sends the branch), and a new
message, the model's context and the Python shell follow the branch shown."""

from __future__ import annotations

import re
import sqlite3

from playwright.sync_api import Page, expect

from tests.e2e.helpers import chat_id_of, converse, py, screenshots, send, wait_turn_done
from tests.e2e.server import Server

SCREENSHOTS = screenshots()


def every_version(server: Server, chat_id: int) -> list[tuple[int, str, int]]:
    with sqlite3.connect(server.db_path) as db:
        return db.execute("SELECT idx, user_text, on_path FROM turn WHERE chat_id=? ORDER BY id", (chat_id,)).fetchall()


def edit(page: Page, k: int, text: str) -> None:
    page.get_by_test_id(f"edit-{k}").click()
    page.locator(f"#user-{k} textarea").fill(text)
    expect(page.get_by_test_id(f"save-edit-{k}")).to_have_text("Save & regenerate")  # it removes nothing now
    page.get_by_test_id(f"save-edit-{k}").click()
    wait_turn_done(page, k)


def shown(page: Page) -> list[str]:
    return page.locator("#chat-turns > .turn [data-testid^=user-text-]").all_inner_texts()


def test_an_edit_keeps_the_old_branch_and_a_new_message_continues_the_shown_one(new_chat: Page,
                                                                                   server: Server) -> None:
    page = new_chat
    converse(page, "Tell me about rivers", "Tell me about lakes", "Tell me about seas")
    edit(page, 1, "Tell me about glaciers")
    expect(page.get_by_test_id("versions-1")).to_contain_text("2/2")
    assert shown(page) == ["Tell me about rivers", "Tell me about glaciers"]
    expect(page.get_by_test_id("version-next-1")).to_have_count(0)
    page.get_by_test_id("version-prev-1").click()  # the old branch, with its answers
    expect(page.get_by_test_id("versions-1")).to_contain_text("1/2")
    expect(page.locator("#assistant-2")).to_contain_text("earlier you asked about lakes")
    assert shown(page) == ["Tell me about rivers", "Tell me about lakes", "Tell me about seas"]
    expect(page.get_by_test_id("version-next-1")).to_be_focused()  # the keyboard stays on the switch
    send(page, "Tell me about oceans")  # continues the branch shown
    wait_turn_done(page, 3)
    page.reload()
    assert shown(page) == ["Tell me about rivers", "Tell me about lakes", "Tell me about seas", "Tell me about oceans"]
    page.get_by_test_id("version-next-1").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("versions-1")).to_contain_text("2/2")
    expect(page.locator("#turn-2")).to_have_count(0)
    assert shown(page) == ["Tell me about rivers", "Tell me about glaciers"]
    page.get_by_test_id("versions-1").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "versions.png"))
    rows = every_version(server, chat_id_of(page))
    assert len(rows) == 5, "every version is stored: 3 turns, the edit, and the message on the old branch"
    assert [r[1] for r in rows if r[2]] == ["Tell me about rivers", "Tell me about glaciers"]


# The page's socket is held in "connecting" until the test lets it go: htmx's ws extension takes its sockets from
# htmx.createWebSocket, set here the moment htmx defines itself (before the extension reads it).
HOLD_SOCKET = """(() => {
  class HeldSocket extends EventTarget {
    constructor(url) {
      super();
      Object.assign(this, { url, readyState: 0, CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
      window.__held.push(this);
    }
    release() {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      ws.onopen = (e) => { this.readyState = 1; this.onopen?.(e); };
      ws.onclose = (e) => { this.readyState = 3; this.onclose?.(e); };
      ws.onerror = (e) => this.onerror?.(e);
      ws.onmessage = (e) => this.dispatchEvent(new MessageEvent("message", { data: e.data }));
    }
    send(message) { this.ws.send(message); }
    close(code, reason) { if (this.ws) this.ws.close(code, reason); else this.readyState = 3; }
  }
  window.__held = [];
  let real;
  Object.defineProperty(window, "htmx", { configurable: true, get: () => real,
    set: (v) => { real = v; v.createWebSocket = (url) => new HeldSocket(url); } });
})();"""


def test_a_switch_pressed_while_the_page_connects_goes_once_it_has_said_hello(new_chat: Page) -> None:
    page = new_chat
    converse(page, "Tell me about rivers", "Tell me about lakes", "Tell me about seas")
    edit(page, 1, "Tell me about glaciers")
    page.get_by_test_id("version-prev-1").click()
    expect(page.get_by_test_id("versions-1")).to_contain_text("1/2")
    page.add_init_script(HOLD_SOCKET)
    page.reload()
    page.wait_for_function("() => window.__held?.length === 1 && window.__held[0].readyState === 0")
    page.get_by_test_id("version-next-1").click()  # before the socket is open
    assert shown(page) == ["Tell me about rivers", "Tell me about lakes", "Tell me about seas"], "it waits"
    page.evaluate("() => window.__held[0].release()")
    expect(page.get_by_test_id("versions-1")).to_contain_text("2/2")
    # Sent before the hello, the switch would have made the hello from a page without turn 2, and the server would
    # have sent that turn back as missing.
    expect(page.locator("#turn-2")).to_have_count(0)
    assert shown(page) == ["Tell me about rivers", "Tell me about glaciers"]


def test_regenerate_keeps_both_answers(new_chat: Page) -> None:
    page = new_chat
    converse(page, "Tell me about tides")
    page.get_by_test_id("regenerate-0").click()
    wait_turn_done(page, 0)
    expect(page.get_by_test_id("versions-0")).to_contain_text("2/2")
    expect(page.locator("#assistant-0 .assistant-text")).to_have_count(1)
    page.get_by_test_id("version-prev-0").click()
    expect(page.get_by_test_id("versions-0")).to_contain_text("1/2")
    expect(page.locator("#assistant-0")).to_contain_text("tides")  # the first answer, back
    page.get_by_test_id("version-next-0").click()
    expect(page.get_by_test_id("versions-0")).to_contain_text("2/2")
    expect(page.locator("#assistant-0")).to_contain_text("tides")
    page.reload()
    expect(page.get_by_test_id("versions-0")).to_contain_text("2/2")


ROLL = "import random\nr = random.random()\nprint(f'roll={r}')"
SHOW = "print(f'now={r}')"


def printed(page: Page, k: int, label: str) -> str:
    result = page.locator(f"#assistant-{k} .tool-result").first
    expect(result).to_contain_text(f"{label}=")
    found = re.search(rf"{label}=([0-9.]+)", result.inner_text())
    assert found is not None
    return found[1]


def test_the_shell_follows_the_branch_shown(new_chat: Page) -> None:
    page = new_chat
    converse(page, py(ROLL))
    first = printed(page, 0, "roll")
    edit(page, 0, py(ROLL + "\n"))  # the same cell again: another roll, on a branch of its own
    second = printed(page, 0, "roll")
    assert first != second
    send(page, py(SHOW))
    wait_turn_done(page, 1)
    assert printed(page, 1, "now") == second
    page.get_by_test_id("version-prev-0").click()
    expect(page.get_by_test_id("versions-0")).to_contain_text("1/2")
    assert printed(page, 0, "roll") == first
    send(page, py(SHOW))
    wait_turn_done(page, 1)
    assert printed(page, 1, "now") == first, "the kernel holds the names of the branch shown"


def expect_files(page: Page, *names: str) -> None:
    """The Files view (opened from the ⋯ menu, then closed) lists exactly `names`."""
    page.get_by_test_id("more-menu").click()
    page.get_by_test_id("show-files").click()
    dialog = page.get_by_test_id("files-dialog")
    expect(dialog.get_by_test_id("files-entry")).to_have_count(len(names))
    for name in names:  # each by its own name: the body is fetched anew each time the view opens
        expect(dialog.locator(f'[data-testid=files-entry][download="{name}"]')).to_have_count(1)
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()


def test_the_files_a_branch_wrote_follow_it(new_chat: Page) -> None:
    page = new_chat
    converse(page, py("open('report.txt', 'w').write('first draft')"))
    expect_files(page, "report.txt")
    edit(page, 0, py("open('summary.txt', 'w').write('second try')"))
    expect_files(page, "summary.txt")  # the other version's file left with its branch
    page.get_by_test_id("version-prev-0").click()
    expect(page.get_by_test_id("versions-0")).to_contain_text("1/2")
    expect_files(page, "report.txt")
    send(page, py("print(open('report.txt').read())"))
    wait_turn_done(page, 1)
    expect(page.locator("#assistant-1 .tool-result").first).to_contain_text("first draft")


def test_search_finds_a_version_not_shown_and_opens_its_branch(new_chat: Page) -> None:
    page = new_chat
    converse(page, "Tell me about rivers", "Tell me about fjords")
    edit(page, 1, "Tell me about glaciers")
    page.get_by_test_id("chat-menu").click()
    page.get_by_test_id("chat-search").fill("fjords")
    page.get_by_test_id(f"search-result-{chat_id_of(page)}").click()
    expect(page.get_by_test_id("versions-1")).to_contain_text("1/2")
    assert shown(page) == ["Tell me about rivers", "Tell me about fjords"]
