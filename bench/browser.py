"""Headless Chromium through Playwright: open a chat, measure the clock offset, send a message, collect timings."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import count
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from bench.servers import Server
from tests.e2e.conftest import CHROMIUM_ARGS

PROBE = (Path(__file__).parent / "probe.js").read_text()
WS_FLAG = "document.addEventListener('htmx:wsOpen', () => { window.__wsOpen = (window.__wsOpen || 0) + 1; });"
_runs = count(1)


@contextmanager
def chromium() -> Iterator[Browser]:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class PageRun:
    """What one answer produced: the server's trace records and the page's timings, on the server's clock."""

    records: list[dict]
    msgs: list[list[float | None]]  # [arrived, applied, mutated, frameStart, painted, length], epoch ms
    frames: list[float]  # rAF timestamps while recording, epoch ms
    long_tasks: list[tuple[float, float]]  # (start epoch ms, duration ms)
    key_at: float | None  # Enter pressed, epoch ms
    clock_error_ms: float  # half the best round trip of the offset measurement


def clock_offset_ms(page: Page, samples: int = 15) -> tuple[float, float]:
    """Browser epoch ms minus server epoch ms (same machine, but Chromium's timeOrigin is its own), and its error bound.

    The sample with the shortest round trip wins; the browser's reading is taken to lie in its middle.
    """
    best: tuple[float, float] | None = None
    for _ in range(samples):
        t0 = time.time() * 1000
        browser_ms = page.evaluate("performance.timeOrigin + performance.now()")
        t1 = time.time() * 1000
        if best is None or t1 - t0 < best[1]:
            best = (browser_ms - (t0 + t1) / 2, t1 - t0)
    assert best is not None
    return best[0], best[1] / 2


def open_chat(browser: Browser, server: Server, base_url: str | None = None) -> tuple[Page, int]:
    """A new page on a fresh chat (the app) or a fresh run (the baseline), its socket open; `base_url` is a proxy."""
    url = base_url or server.url
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    page.add_init_script(WS_FLAG)
    page.add_init_script(PROBE)
    page.set_default_timeout(30_000)
    if server.kind == "app":
        page.goto(f"{url}/chat")
        page.get_by_test_id("new-chat").click()
        page.wait_for_load_state()
    else:
        page.goto(f"{url}/chat?run={next(_runs)}")
    # Functions, not expression strings: Playwright evaluates a bare expression with eval, which the page's
    # Content-Security-Policy forbids (EvalError).
    page.wait_for_function("() => window.__wsOpen >= 1")
    # A person types once the page has settled; without this, the first frames of a turn shared the main
    # thread with the page's own start-up (readystatechange, Alpine's first pass, lazy compiles).
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)
    return page, int(page.locator("#chat").get_attribute("data-chat-id") or 0)


def ask(page: Page, chat: int, server: Server, text: str, timeout_s: float = 300) -> PageRun:
    """Send `text` with Enter, wait until the turn's last frame is painted, and collect everything on the server's clock."""
    offset, error = clock_offset_ms(page)
    before = len(server.trace.records(chat))  # frames of earlier turns on this socket
    page.locator("#chat-input").fill(text)
    page.evaluate("window.__bench.recording = true")
    page.locator("#chat-input").press("Enter")
    deadline = time.monotonic() + timeout_s
    while not any("TurnFinished" in r["k"] for r in server.trace.records(chat)[before:]):
        if time.monotonic() > deadline:
            raise TimeoutError(f"no end of turn in {timeout_s} s")
        time.sleep(0.1)
    n = len(server.trace.records(chat))
    page.wait_for_function("(n) => window.__bench.msgs.length >= n && window.__bench.msgs[n - 1][4] !== null",
                           arg=n, timeout=timeout_s * 1000)
    page.wait_for_timeout(100)  # a few frames after the end, so the last frame's duration is known
    data = page.evaluate("""() => { const B = window.__bench; B.recording = false;
        return {origin: performance.timeOrigin, msgs: B.msgs, frames: B.frames, longTasks: B.longTasks, keyAt: B.keyAt}; }""")
    shift = data["origin"] - offset  # page ms -> server epoch ms

    def at(x: float | None) -> float | None:
        return None if x is None else x + shift

    return PageRun(
        records=server.trace.records(chat)[before:],
        msgs=[[at(v) for v in m[:5]] + [m[5]] for m in data["msgs"][before:]],
        frames=[f + shift for f in data["frames"]],
        long_tasks=[(s + shift, d) for s, d in data["longTasks"]],
        key_at=at(data["keyAt"]),
        clock_error_ms=error,
    )
