"""Output a user can read while a cell runs: printed lines appear as they are printed, with a running clock, and a
stopped cell keeps what it printed."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.e2e.conftest import wait_socket
from tests.e2e.helpers import py, send, wait_turn_done

COUNT = "import time\nfor i in range(5):\n    print(i)\n    time.sleep(1)"

SEEN = """() => {
  window.__seen = [];
  const obs = new MutationObserver(() => {
    const live = document.querySelector("[data-testid=live-output]");
    if (!live) return;
    const text = live.textContent;
    if (window.__seen.at(-1) !== text) window.__seen.push(text);
  });
  obs.observe(document.getElementById("chat-turns"), {childList: true, subtree: true, characterData: true});
}"""


def test_printed_lines_appear_one_by_one_under_a_running_clock(new_chat: Page) -> None:
    page = new_chat
    page.evaluate(SEEN)
    send(page, py(COUNT))
    live = page.get_by_test_id("live-output")
    expect(live).to_have_text("0\n1\n", timeout=20_000)
    elapsed = float(page.get_by_test_id("elapsed").inner_text().split()[0])
    assert elapsed >= 1.0, "the clock runs while the cell does"
    wait_turn_done(page, 0)
    seen = page.evaluate("window.__seen")
    growing = [s for s in seen if s]
    # One line at a time: every prefix 0, 0..1, ..., 0..4 was on the page by itself.
    assert [s.strip() for s in growing[:5]] == ["0", "0\n1", "0\n1\n2", "0\n1\n2\n3", "0\n1\n2\n3\n4"], seen
    expect(page.locator("#assistant-0 .tool-result").last).to_contain_text("4")


def test_a_stopped_cell_keeps_what_it_printed(new_chat: Page) -> None:
    page = new_chat
    send(page, py(COUNT))
    expect(page.get_by_test_id("live-output")).to_have_text("0\n1\n", timeout=20_000)
    page.get_by_test_id("stop").click()
    wait_turn_done(page, 0)
    expect(page.get_by_test_id("stopped-0")).to_be_visible()
    expect(page.get_by_test_id("live-output")).to_have_text("0\n1\n")  # as it was when stopped
    expect(page.get_by_test_id("live-cell")).to_contain_text("Stopped")
    page.reload()
    wait_socket(page)
    expect(page.get_by_test_id("stopped-0")).to_be_visible()
    expect(page.get_by_test_id("cell-stopped")).to_be_visible()
    expect(page.locator("#assistant-0 .tool-result").first).to_contain_text("0\n1")
