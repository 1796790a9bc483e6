"""Which stored turns a page shows: a long chat goes out in batches, the latest first.

A page (and a catch-up that lacks many turns) shows the latest turns only: at most PAGE_TURNS, and no more
than about BATCH_BYTES of HTML, but always the last one. The "Show earlier messages" control above the first
shown turn fetches the batch before it (BATCH_TURNS at most). Only the rows of a batch are read, so a
2,000-turn chat opens about as fast as a short one (docs/architecture.md, "A long chat"). A page opened at an early turn (a search result) shows
every turn from it to the end, read a batch at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fasthtml.common import NotStr

from app.turn_html import TurnHtml
from ui.turns import ShellResetMarker
from varro.db.crud import ChatTurns
from varro.db.models import Turn

BATCH_TURNS = 30
# A page opens with fewer: a phone shows two or three turns, and every turn on the first page costs its parsing,
# layout and Alpine's walk of its elements before the page answers a tap (30 turns: about 1,450 elements and twice
# the blocking time on Lighthouse's phone; docs/benchmarks.md, "A light page"). The batch before loads ahead.
PAGE_TURNS = 12
BATCH_BYTES = 200_000
# Stored JSON is not HTML, but it is of the same order: rows are chosen by their stored size (with room to spare)
# before any is read, so a batch never decodes and renders megabytes only to show a few kilobytes of them.
STORED_SLACK = 2


@dataclass(frozen=True)
class Window:
    """Consecutive stored turns from index `start`, with their HTML."""

    start: int
    turns: list[Turn]
    html: list[NotStr]


def within(sizes: Sequence[int], budget: int) -> int:
    """How many of `sizes`, taken in order, fit in `budget` together; at least one (when there is one)."""
    total = 0
    for n, size in enumerate(sizes):
        total += size
        if n and total > budget:
            return n
    return len(sizes)


async def batch(cache: TurnHtml, turns: ChatTurns, before: int, start: int = 0, size: int = BATCH_TURNS) -> Window:
    """The latest turns below `before` (none below `start`): `size` of them at most, about BATCH_BYTES of HTML at
    most, and always the one just below `before` (if any)."""
    sizes = await turns.sizes(before, size, start)  # newest first
    if not sizes:
        return Window(before, [], [])
    read = within([size for _, size in sizes], BATCH_BYTES * STORED_SLACK)
    rows = await turns.list(start=sizes[read - 1][0], stop=before)
    if not rows:  # removed in between (an edit elsewhere)
        return Window(before, [], [])
    html = await cache.html(rows, await turns.versions(rows[0].idx, before))
    keep = within([len(h) for h in reversed(html)], BATCH_BYTES)
    return Window(rows[-keep].idx, rows[-keep:], html[-keep:])


async def from_turn(cache: TurnHtml, turns: ChatTurns, start: int, end: int) -> Window:
    """Every turn from `start` to `end` (a search result opens the chat at its turn, with all that follows): read a
    batch's worth of rows at a time, so that decoding them never holds the event loop for long."""
    rows: list[Turn] = []
    html: list[NotStr] = []
    for lo in range(start, end, BATCH_TURNS):
        part = await turns.list(start=lo, stop=min(lo + BATCH_TURNS, end))
        rows += part
        html += await cache.html(part, await turns.versions(lo, min(lo + BATCH_TURNS, end)))
    return Window(start, rows, html)


def with_markers(window: Window, resets: Sequence[int], last: bool = True) -> list[Any]:
    """The window's turns, each after the shell-reset markers recorded before it; with `last` (the window reaches
    the end of the chat) also those after its final turn. A marker belongs to the window holding its turn, so
    windows side by side show each marker once."""
    out: list[Any] = []
    for t, html in zip(window.turns, window.html, strict=True):
        out += [ShellResetMarker(r) for r in resets if r == t.idx]
        out.append(html)
    after = window.turns[-1].idx if window.turns else window.start - 1
    return out + [ShellResetMarker(r) for r in resets if last and r > after]
