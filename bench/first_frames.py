"""`python -m bench.first_frames`: where the model's first delta waits on the page, frame by frame.

Figure 4 (the model's first delta to paint) in parts. Each run opens a new chat in headless Chromium, as the bench does,
and sends `/stream 60 at 200`; the page's timings (`bench/probe.js`) are joined to the server's trace. Printed: for the
answer's first frames of one run, when each was sent, reached the page's main thread, was applied and was painted
(milliseconds after the Enter key), then the medians over the runs of the first delta to paint and of its parts: the
server's hold (model hand-over to the socket), reaching the page's thread, the swap, the wait for an animation frame
and its rendering. With `--before DIR` (a checkout of an earlier commit, as for bench.compare) both servers run side
by side, alternating.

    python -m bench.first_frames [--runs 14] [--before DIR]
"""

from __future__ import annotations

import argparse
import statistics
from contextlib import ExitStack
from pathlib import Path

from bench import scenarios, servers
from bench.analyze import analyze
from bench.browser import PageRun, ask, chromium, open_chat
from tests.e2e.server import ROOT

QUESTION = "/stream 60 at 200"  # the demo thinks for about ten tokens, then writes; 0.35 s in all
PARTS = ("first delta to paint", "first text delta to paint", "Enter to bubble", "server", "to the page's thread",
         "swap", "wait for a frame", "render")


def parts(run: PageRun) -> tuple[float, ...]:
    """The figures of one run, in the order of PARTS (ms)."""
    a = analyze(run)
    first = next(i for i, r in enumerate(run.records) if r["d"])
    handed = run.records[first]["d"][0] * 1000
    arrived, applied, _, frame_start, painted, _ = run.msgs[first]
    return (a.first_token_ms, a.first_text_ms, a.enter_to_bubble_ms or float("nan"),
            run.records[first]["t"] * 1000 - handed, arrived - handed, applied - arrived, frame_start - applied,
            painted - frame_start)


def frames(run: PageRun, count: int = 6) -> list[str]:
    """The answer's first frames: what they carried, and when (ms after Enter) each was sent, reached the page's
    thread, was applied and painted."""
    rows = []
    enter = run.key_at if run.key_at is not None else run.records[0]["t"] * 1000
    for rec, msg in list(zip(run.records, run.msgs, strict=False))[:count]:
        at = [rec["t"] * 1000, msg[0], msg[1], msg[4]]
        rows.append(f"| {', '.join(rec['k']) or 'deltas'} | " + " | ".join(f"{t - enter:.0f}" for t in at) + " |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.first_frames", description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=14)
    parser.add_argument("--before", type=Path, help="an earlier checkout, run alternately beside this one")
    args = parser.parse_args()
    roots = {"after": ROOT, **({"before": args.before.resolve()} if args.before else {})}
    got: dict[str, list[tuple[float, ...]]] = {name: [] for name in roots}
    shown: list[str] = []
    with scenarios.temp_root() as tmp, chromium() as browser, ExitStack() as stack:
        srv = {name: stack.enter_context(servers.run("app", Path(tmp) / name, root)) for name, root in roots.items()}
        for name in roots:  # warm-up: the first page and answer on each server
            page, chat = open_chat(browser, srv[name])
            ask(page, chat, srv[name], "/stream 100 at 2000")
            page.close()
        for i in range(args.runs):
            for name in list(roots) if i % 2 == 0 else list(roots)[::-1]:
                page, chat = open_chat(browser, srv[name])
                run = ask(page, chat, srv[name], QUESTION)
                page.close()
                got[name].append(parts(run))
                if name == "after" and not shown:
                    shown = frames(run)
    print("\nthe answer's first frames, one run (ms after the Enter key)\n")
    print("| frame (events) | sent | on the page's thread | applied | painted |\n|---|--:|--:|--:|--:|")
    print("\n".join(shown))
    print(f"\nmedians of {args.runs} runs each, ms\n")
    print("| | " + " | ".join(roots) + " |\n|---|" + "--:|" * len(roots))
    for j, label in enumerate(PARTS):
        print(f"| {label} | " + " | ".join(f"{statistics.median(r[j] for r in got[n]):.1f}" for n in roots) + " |")


if __name__ == "__main__":
    main()
