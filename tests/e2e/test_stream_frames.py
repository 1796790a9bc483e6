"""The streaming fast path (static/js/stream-frames.js): a frame it applies leaves exactly the DOM htmx would,
keeps what did not change (so a reader's selection in a streaming answer survives the next frame), and a frame
that needs htmx's wiring is left to htmx.

Frames are handed to the ws extension as if the server had sent them: a `MessageEvent` on the page's socket."""

from __future__ import annotations

import pytest
from fasthtml.common import to_xml
from playwright.sync_api import Page, expect

from bench.frames import SOCKETS
from tests.e2e.conftest import wait_socket
from tests.e2e.server import Server
from ui.layout import Progress

# Apply `frame` to a probe element holding `start`; report its HTML after, whether the fast path took the frame,
# and whether the probe's first child is still the same node.
APPLY = """([start, frame]) => {
  let probe = document.getElementById('probe-tail');
  if (!probe) {
    probe = document.createElement('div');
    probe.id = 'probe-tail';
    document.getElementById('chat-turns').append(probe);
  }
  probe.innerHTML = start;
  const first = probe.firstChild;
  let taken = null;
  const seen = (e) => { queueMicrotask(() => { taken = e.defaultPrevented; }); };
  document.addEventListener('htmx:wsBeforeMessage', seen);
  window.__sockets.at(-1).dispatchEvent(new MessageEvent('message', {data: frame}));
  document.removeEventListener('htmx:wsBeforeMessage', seen);
  return new Promise((done) => setTimeout(() => done({
    html: probe.innerHTML, taken, kept: probe.firstChild === first,
    wired: !!(probe.querySelector('[hx-get]') || {})['htmx-internal-data'],
  }), 50));
}"""

# (start, new rendering of the open block): text that grew, a list gaining an item, a changed word mid-block,
# emphasis closing, a block replaced by another, the caret moving, and an emptied tail.
CASES = [
    ("<p>Rivers carve</p>", "<p>Rivers carve valleys</p>"),
    ("<ul><li>one</li><li>tw</li></ul>", "<ul><li>one</li><li>two</li><li>th</li></ul>"),
    ("<p>a <em>b</em> c</p><p>d</p>", "<p>a <strong>b</strong> c</p><p>d e</p>"),
    ("<p>so <strong>bold</strong><span id=\"caret-9-0-0\"></span></p>",
     "<p>so <strong>bold</strong> and <code>x</code><span id=\"caret-9-0-0\"></span></p>"),
    ("<p>a table?</p>", "<table><thead><tr><th>a</th></tr></thead><tbody></tbody></table>"),
    ("<p>x</p>", ""),
]


@pytest.fixture
def frames_page(page: Page, server: Server) -> Page:
    page.add_init_script(SOCKETS)
    page.goto(f"{server.url}/chat")
    page.get_by_test_id("new-chat").click()
    page.wait_for_load_state()
    wait_socket(page)
    return page


@pytest.mark.parametrize(("start", "fresh"), CASES)
def test_a_frame_on_the_fast_path_leaves_what_htmx_would(frames_page: Page, start: str, fresh: str) -> None:
    got = frames_page.evaluate(APPLY, [start, f'<div id="probe-tail" hx-swap-oob="innerHTML">{fresh}</div>'])
    assert got["taken"] is True
    assert got["html"] == fresh


def test_what_did_not_change_stays_so_a_selection_survives(frames_page: Page) -> None:
    start = "<p>First paragraph, being read.</p><p>Second, being writ</p>"
    fresh = "<p>First paragraph, being read.</p><p>Second, being written</p>"
    got = frames_page.evaluate(APPLY, [start, f'<div id="probe-tail" hx-swap-oob="innerHTML">{fresh}</div>'])
    assert (got["taken"], got["html"], got["kept"]) == (True, fresh, True)


def test_appended_characters_land_at_the_caret(frames_page: Page) -> None:
    start = '<p>so far<span id="caret-9-0-1"></span></p>'
    got = frames_page.evaluate(APPLY, [start, '<span id="caret-9-0-1" hx-swap-oob="beforeend"> and &lt;more&gt;</span>'])
    assert (got["taken"], got["html"]) == (True, '<p>so far<span id="caret-9-0-1"> and &lt;more&gt;</span></p>')


def test_a_frame_that_needs_wiring_is_left_to_htmx(frames_page: Page) -> None:
    fresh = '<button hx-get="/nowhere" hx-trigger="never">x</button>'
    got = frames_page.evaluate(APPLY, ["", f'<div id="probe-tail" hx-swap-oob="innerHTML">{fresh}</div>'])
    assert got["taken"] is False
    assert got["wired"] is True  # htmx processed the new element


# Hand a frame to the page's socket; report whether the fast path took it and how the status line reads after.
STATUS = """(frame) => {
  let taken = null;
  const seen = (e) => { queueMicrotask(() => { taken = e.defaultPrevented; }); };
  document.addEventListener('htmx:wsBeforeMessage', seen);
  window.__sockets.at(-1).dispatchEvent(new MessageEvent('message', {data: frame}));
  document.removeEventListener('htmx:wsBeforeMessage', seen);
  return new Promise((done) => setTimeout(() => {
    const el = document.getElementById('progress');
    done({taken, count: document.querySelectorAll('#progress').length, running: el.dataset.running,
          oob: el.hasAttribute('hx-swap-oob'), text: el.textContent});
  }, 50));
}"""


def test_the_status_line_takes_the_fast_path_and_still_locks_and_unlocks_the_input(frames_page: Page) -> None:
    """It is replaced at each step of every answer, the first just before the model's first words arrive."""
    thinking = to_xml(Progress("thinking", oob=True), indent=False)
    got = frames_page.evaluate(STATUS, thinking)
    assert got == {"taken": True, "count": 1, "running": "true", "oob": False, "text": "Responding… Thinking…"}
    expect(frames_page.get_by_test_id("stop")).to_be_visible()  # running: Stop stands in for Send
    expect(frames_page.get_by_test_id("send")).to_be_hidden()
    got = frames_page.evaluate(STATUS, to_xml(Progress("done", oob=True), indent=False))
    assert got == {"taken": True, "count": 1, "running": "false", "oob": False, "text": "Done"}
    expect(frames_page.get_by_test_id("send")).to_be_visible()
    expect(frames_page.get_by_test_id("stop")).to_be_hidden()
