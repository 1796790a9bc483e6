"""`python -m bench.frames [BEFORE_DIR]`: the browser's own cost of applying an answer's frames, replayed.

Token-to-paint on a shared machine moves by more than the change being measured (docs/benchmarks.md). This
measures only the page's work, in one page, interleaved: an answer's websocket frames are recorded once from
each server, then replayed into the same page many times, each replay timed from the first frame to the layout
after the last (a forced layout after each frame, as the browser lays out before it paints). Replays:

- `htmx`: this checkout's frames, each handed to the ws extension as a message from the server (a
  `MessageEvent` on the page's socket), with static/js/stream-frames.js kept out: htmx swaps them all;
- `fast`: the same frames as the page applies them (static/js/stream-frames.js takes the streaming ones);
- `before`: the frames of the checkout at BEFORE_DIR (given: an earlier commit's tree, as bench.compare takes)
  through htmx, which is what that page did.

Each kind's replays alternate with the others', so load from elsewhere meets all alike; medians and the
ratios against `before` (or `htmx`) are printed and written to bench/results/frames.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from bench import servers
from bench.browser import ask, chromium, open_chat
from tests.e2e.server import ROOT

RECORD = """() => { window.__frames = [];
  document.addEventListener('htmx:wsBeforeMessage', (e) => window.__frames.push(e.detail.message), true); }"""

# Keeps the page's sockets, so a replay can hand a frame to the ws extension as if the server had sent it.
SOCKETS = """(() => { const Real = window.WebSocket; window.__sockets = [];
  window.WebSocket = class extends Real { constructor(...a) { super(...a); window.__sockets.push(this); } }; })();"""

# One replay: reset the turn list, then give each frame to the ws extension's own message listener and lay
# out. Without `fast`, a capturing listener keeps the event from stream-frames.js, so htmx swaps every frame.
REPLAY = """([frames, fast, start]) => {
  const sock = window.__sockets[window.__sockets.length - 1];
  const hide = (e) => e.stopPropagation();
  if (!fast) window.addEventListener('htmx:wsBeforeMessage', hide, true);
  const list = document.getElementById('chat-turns');
  list.innerHTML = start;
  document.body.offsetHeight;
  const t0 = performance.now();
  for (const data of frames) {
    sock.dispatchEvent(new MessageEvent('message', {data}));
    document.body.offsetHeight;
  }
  const ms = performance.now() - t0;
  window.removeEventListener('htmx:wsBeforeMessage', hide, true);
  return ms;
}"""


def record(browser: Any, root: Path, tmp: Path, text: str) -> list[str]:
    """The frames of one answer to `text` from the app at `root`, as the page received them."""
    with servers.run("app", tmp, root) as srv:
        page, chat = open_chat(browser, srv)
        page.evaluate(RECORD)
        ask(page, chat, srv, text)
        frames: list[str] = page.evaluate("window.__frames")
        page.close()
    return frames


def replay(page: Page, frames: list[str], fast: bool, start: str) -> float:
    return float(page.evaluate(REPLAY, [frames, fast, start]))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.frames", description=__doc__.split("\n")[0])
    parser.add_argument("before", type=Path, nargs="?", help="an earlier checkout, to compare its frames with")
    parser.add_argument("--tokens", type=int, default=1500)
    parser.add_argument("--tps", type=int, default=3000, help="the rate the frames are recorded at")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "frames.json")
    args = parser.parse_args()
    text = f"/stream {args.tokens} at {args.tps}"
    with tempfile.TemporaryDirectory() as tmp, chromium() as browser:
        recorded = {"htmx": record(browser, ROOT, Path(tmp) / "after", text)}
        recorded["fast"] = recorded["htmx"]
        if args.before:
            recorded["before"] = record(browser, args.before.resolve(), Path(tmp) / "before", text)
        with servers.run("app", Path(tmp) / "page") as srv:
            page = browser.new_page(viewport={"width": 1000, "height": 800})
            page.add_init_script(SOCKETS)
            page.goto(f"{srv.url}/chat")
            page.wait_for_function("() => window.__sockets.length && window.__sockets.at(-1).readyState === 1")
            page.wait_for_timeout(300)
            start = page.locator("#chat-turns").inner_html()
            times: dict[str, list[float]] = {kind: [] for kind in recorded}
            for i in range(args.runs + 1):  # the first round warms up (lazy compiles), and is dropped
                kinds = list(recorded) if i % 2 == 0 else list(recorded)[::-1]
                for kind in kinds:
                    ms = replay(page, recorded[kind], kind == "fast", start)
                    if i:
                        times[kind].append(ms)
    base = "before" if "before" in times else "htmx"
    out = {kind: {"frames": len(recorded[kind]), "median_ms": statistics.median(t), "runs_ms": t}
           for kind, t in times.items()}
    print(f"{text}: one answer's frames replayed {args.runs} times each, interleaved")
    print("| frames applied by | frames | median ms | per frame µs | against " + base + " |")
    print("|---|---|---|---|---|")
    for kind, r in out.items():
        ratio = r["median_ms"] / out[base]["median_ms"]
        print(f"| {kind} | {r['frames']} | {r['median_ms']:.1f} | {1000 * r['median_ms'] / r['frames']:.0f}"
              f" | {ratio:.2f}x |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"text": text, "runs": out}, indent=1))


if __name__ == "__main__":
    main()
