"""Hostile text in real Chromium: every payload of the corpus typed as the user's message and streamed back
by a provider as the model's answer (split into 3-character deltas, then rendered as the finished block),
and once more as a code cell's arguments and output. Nothing may run, load from elsewhere, or move.

The provider is the loopback OpenAI-compatible fake (`ECHO` prompts), reached through the real model path.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import wait_socket
from tests.e2e.server import Server, run_server
from tests.fakes.openai_server import run_fake_openai
from tests.security.conftest import FULL
from tests.security.dom import CHECK_DOM
from tests.security.xss_corpus import XSS_PAYLOADS

# Each turn carries this many payloads (one per turn with VARRO_FULL_TRIALS=1, so none hides another's context).
BATCH = 1 if FULL else 12
TURN_TIMEOUT = 60_000


@dataclass
class Watch:
    """What the page did that it must not: dialogs, requests elsewhere, console errors."""

    origin: str
    dialogs: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        def on_dialog(d) -> None:  # noqa: ANN001
            self.dialogs.append(f"{d.type}: {d.message}")
            d.dismiss()

        page.on("dialog", on_dialog)
        page.on("request", lambda r: None if r.url.startswith((self.origin, "data:")) else self.foreign.append(r.url))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def assert_clean(self, page: Page) -> None:
        assert self.dialogs == [], "a payload opened a dialog"
        assert self.foreign == [], "a payload made a request to another origin"
        assert page.evaluate("window.__violations") == [], "markup got far enough to be stopped by the CSP"
        assert page.evaluate("window.__active") == [], "active markup appeared in a turn"
        assert self.errors == []


@pytest.fixture(scope="module")
def echo_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data = tmp_path_factory.mktemp("xss")
    with run_fake_openai(log=data / "fake.log", delay_ms=1) as fake, run_server(
        data, VARRO_MODEL="openai:fake-model", OPENAI_BASE_URL=fake, OPENAI_API_KEY="test-key",
        VARRO_STREAM_FLUSH_MS="0",  # every 3-character delta in a frame of its own
    ) as app:
        yield app


def shown(text: str) -> str:
    """A message as the page shows it: trimmed by the server; the HTML parser drops NUL from body text."""
    return text.strip().replace("\r\n", "\n").replace("\0", "")


def send_and_wait(page: Page, text: str, k: int) -> None:
    page.locator("#chat-input").fill(text)
    page.locator("#chat-input").press("Enter")
    expect(page.locator(f"#meta-{k}")).to_have_attribute("data-status", "complete", timeout=TURN_TIMEOUT)


def test_corpus_streamed_and_typed_is_inert(page: Page, echo_app: Server) -> None:
    watch = Watch(echo_app.url)
    watch.attach(page)
    page.goto(f"{echo_app.url}/chat")
    with page.expect_navigation():
        page.get_by_test_id("new-chat").click()
    wait_socket(page)
    url, scripts = page.url, page.locator("script").count()

    batches = [XSS_PAYLOADS[i:i + BATCH] for i in range(0, len(XSS_PAYLOADS), BATCH)]
    messages = ["ECHO\n" + "\n\n".join(batch) for batch in batches]
    # Once more as a code cell: the payloads stream as tool-call arguments, come back as its output, and are
    # quoted in the answer (inside a fence that some of them close). Backticks are escaped in the source only,
    # so the cell is one fence.
    literal = "[" + ", ".join(repr(p).replace("`", "\\x60") for p in XSS_PAYLOADS) + "]"
    messages.append(f"ECHO\n```python\npayloads = {literal}\nfor p in payloads:\n    print(p)\n```")
    texts: list[str] = []
    for k, message in enumerate(messages):
        send_and_wait(page, message, k)
        texts.append(shown(message))
        problems = page.evaluate(CHECK_DOM, texts)
        assert problems == [], f"turn {k}: {problems[:5]}"
        watch.assert_clean(page)
    expect(page.locator(f"#assistant-{len(messages) - 1} .tool-result")).to_contain_text("alert(1)")

    # The same turns rendered from the database, the title in the header and the chat menu. The page opens with the
    # latest turns; the earlier ones come in as the reader asks for them.
    page.reload()
    wait_socket(page)
    load_every_turn(page)
    assert page.evaluate(CHECK_DOM, texts) == []
    page.get_by_test_id("chat-menu").click()
    entry = page.locator(f"[data-testid='chat-link-{page.locator('#chat').get_attribute('data-chat-id')}']")
    expect(entry).to_be_visible()
    assert entry.locator("*").evaluate_all("els => els.map(e => e.tagName + e.children.length)") == ["SPAN0", "SPAN0"]
    watch.assert_clean(page)
    assert page.url == url and page.locator("script").count() == scripts


FIRST_TURN = "() => Number(document.querySelector('#chat-turns > .turn')?.dataset.turn ?? 0)"


def load_every_turn(page: Page) -> None:
    """Show the earlier turns too: "Show earlier messages" until there are none."""
    while (first := page.evaluate(FIRST_TURN)) > 0:
        page.get_by_test_id("load-earlier").click()
        page.wait_for_function(f"() => ({FIRST_TURN})() < {first}")

