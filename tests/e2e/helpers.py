"""Small page helpers shared by the e2e tests."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.e2e.conftest import WS_FLAG, wait_socket
from tests.e2e.server import Server

# How far the chat's list is scrolled from its end, in pixels (0: its last line in view).
DISTANCE_TO_END = "(() => { const s = document.getElementById('chat-scroll'); return s.scrollHeight - s.scrollTop - s.clientHeight; })()"

# Records every distinct state of the first live text part of a turn, until it is finished, as
# [finished blocks, length of the open tail]: blocks are only ever added, and between two of them the
# tail only grows (it starts over with the open text when a block is rendered out of it).
WATCH_LIVE_TEXT = """(k) => {
  window.__lengths = [];
  const seen = new Set();
  const obs = new MutationObserver(() => {
    const live = document.querySelector(`#assistant-${k} .assistant-text > [id^="part-"]`);
    if (!live) return;
    const state = [live.parentElement.querySelectorAll(":scope > .md-chunk > *").length, live.textContent.length];
    if (!seen.has(String(state))) { seen.add(String(state)); window.__lengths.push(state); }
  });
  obs.observe(document.getElementById('chat-turns'), {childList: true, subtree: true, characterData: true});
}"""

# Watches the open tail of turn 0's answer while it streams: every text of it that matches `raw` (markup
# that should not show) goes to window.__raw, and the tags of the elements matching `rendered` it ever
# held to window.__rendered.
WATCH_TAIL = """([raw, rendered]) => {
  window.__raw = []; window.__rendered = new Set();
  const pattern = new RegExp(raw, 'm');
  new MutationObserver(() => {
    const tail = document.querySelector('#assistant-0 .assistant-text > [id^="part-"]');
    if (!tail) return;
    if (pattern.test(tail.textContent)) window.__raw.push(tail.textContent.slice(-80));
    for (const el of tail.querySelectorAll(rendered)) window.__rendered.add(el.tagName.toUpperCase());
  }).observe(document.getElementById('chat-turns'), {childList: true, subtree: true, characterData: true});
}"""


def tidy(html: str) -> str:
    """Markup without the indentation between tags (the full page is indented, frames are not)."""
    return re.sub(r">\s+<", "><", html).strip()


def send(page: Page, text: str) -> None:
    page.locator("#chat-input").fill(text)
    page.locator("#chat-input").press("Enter")


def wait_idle(page: Page, timeout: float = 60_000) -> None:
    """Wait until the turn has finished and the input is unlocked."""
    expect(page.locator("#progress")).to_have_attribute("data-running", "false", timeout=timeout)


def wait_running(page: Page) -> None:
    expect(page.locator("#progress")).to_have_attribute("data-running", "true")


def wait_turn_done(page: Page, k: int, timeout: float = 60_000) -> None:
    expect(page.locator(f"#meta-{k}[data-status]")).to_have_count(1, timeout=timeout)
    wait_idle(page, timeout)


def converse(page: Page, *messages: str, first: int = 0) -> None:
    """Send each message in turn, waiting for its answer to finish."""
    for k, message in enumerate(messages, start=first):
        send(page, message)
        wait_turn_done(page, k)


def py(code: str) -> str:
    """A message holding one fenced python block (the demo model runs it with the tool)."""
    return f"```python\n{code}\n```"


def chat_id_of(page: Page) -> int:
    return int(page.locator("#chat").get_attribute("data-chat-id"))


CSP_WATCH = """window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));"""


def watch_csp(page: Page) -> None:
    """Reload the page recording every Content-Security-Policy violation in `window.__csp`, and wait for its socket."""
    page.add_init_script(CSP_WATCH)
    page.reload()
    wait_socket(page)


def screenshots() -> Path:
    """Where the e2e tests put the README's screenshots: docs/screenshots with VARRO_UPDATE_SCREENSHOTS=1 (a
    maintainer's step), else a scratch folder, so that a test run never changes the checkout."""
    if os.environ.get("VARRO_UPDATE_SCREENSHOTS"):
        return Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    folder = Path(tempfile.gettempdir()) / "varro-screenshots"
    folder.mkdir(exist_ok=True)
    return folder


def phone(browser: Browser, server: Server) -> tuple[BrowserContext, Page]:
    """A touch phone's context, on a fresh chat with its socket open."""
    context = browser.new_context(viewport={"width": 390, "height": 760}, has_touch=True, is_mobile=True)
    context.add_init_script(WS_FLAG)
    page = context.new_page()
    page.goto(f"{server.url}/chat")
    page.get_by_test_id("new-chat").tap()
    wait_socket(page)
    return context, page
