"""Coalesce streamed deltas so that a burst of tokens travels in one frame.

At most one frame of deltas leaves every window (`flush_ms`): a delta that comes after a quiet spell
goes at once (with whatever else arrives in the same turn of the event loop), and deltas that come
sooner after the last frame wait for the window to end, joined per part. A slow stream (a token every
10 ms) is therefore not delayed at all, and a fast one reaches the page at most 1000/flush_ms times a
second. Any other event first flushes what is pending, so order is kept. `flush_ms=0` sends every delta
as it comes.

Under load the window widens to the display's frame at least: once `lag()` (the event loop's recent
lateness, app/lag.py) is past what a quiet loop shows (`LAG_SLACK_S`), a stream sends no more than
about 60 frames a second, what a page can paint, and fewer as the lag grows (`WIDEN` times the lag,
up to `MAX_WINDOW_S`). Every stream then sends fewer, fuller frames, so a loaded loop spends less of
itself on frames and each stream keeps moving instead of all falling behind. Before the loop lags, the
process's frame budget (varro/chat/frame_budget.py) shares a number of frames a second among the streams
sending: many streams at once each send fewer frames from the start. On a quiet loop with few streams the
window stays `flush_ms`: holding deltas to the display's rate there costs a lone user's token-to-paint
about as much as the extra wait (docs/benchmarks.md), for frames the server has the time to send.

A send that fails in the timer (the socket went away) is not raised in the timer task, where nobody
would see it: it is kept and raised by the next call, so the session learns its sink is gone.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from varro.chat.events import Event, PartDelta
from varro.chat.frame_budget import FrameBudget

SendBatch = Callable[[list[Event]], Awaitable[None]]
SendRaw = Callable[[str], Awaitable[None]]
Sleep = Callable[[float], Awaitable[None]]

DISPLAY_FRAME_S = 1 / 60  # the loaded window's floor: no more frames than a page paints
WIDEN = 2.0  # seconds of window per second of loop lag
LAG_SLACK_S = 0.002  # a quiet loop wakes this late anyway: not load
MAX_WINDOW_S = 0.25  # however loaded, a stream still shows four frames a second


def no_lag() -> float:
    return 0.0


class Coalescer:
    """A session sink that batches `PartDelta`s and hands ordered batches to `send`."""

    def __init__(self, flush_ms: float, send: SendBatch, send_raw: SendRaw, *, lag: Callable[[], float] = no_lag,
                 budget: FrameBudget | None = None, clock: Callable[[], float] = time.monotonic,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.flush_s = flush_ms / 1000
        self.send = send
        self.send_raw = send_raw
        self.lag = lag
        self.budget = budget
        self.clock = clock
        self.sleep = sleep
        self._pending: dict[tuple[int, int, int], list[str]] = {}
        self._timer: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # FIFO, so batches leave in the order they were formed
        self._last_sent = -float("inf")  # monotonic time the last frame left
        self._failed: Exception | None = None  # a send from the timer that failed, for the next caller

    async def __call__(self, event: Event) -> None:
        if self._failed is not None:
            failed, self._failed = self._failed, None
            raise failed
        if isinstance(event, PartDelta) and self.flush_s > 0:
            self._pending.setdefault((event.turn, event.node, event.part), []).append(event.text)
            if self._timer is None:
                wait = self._last_sent + self.window() - self.clock()
                self._timer = asyncio.create_task(self._flush_later(max(0.0, wait)))
            return
        batch = self._take()
        batch.append(event)
        await self._send(batch)

    def window(self) -> float:
        """Seconds between two frames of deltas now: the flush window, widened to this stream's share of the frame
        budget, and when the loop lags."""
        shared = min(MAX_WINDOW_S, self.budget.window()) if self.budget is not None else 0.0
        lag = self.lag()
        if lag <= LAG_SLACK_S:
            return max(self.flush_s, shared)
        return max(self.flush_s, shared, min(MAX_WINDOW_S, max(DISPLAY_FRAME_S, self.flush_s + WIDEN * lag)))

    async def prime_html(self, frame: str) -> None:
        """Send a ready frame ahead of anything else (a catch-up); call it before the sink gets events."""
        async with self._lock:
            await self.send_raw(frame)

    async def flush(self) -> None:
        batch = self._take()
        if batch:
            await self._send(batch)

    async def _flush_later(self, delay: float) -> None:
        await self.sleep(delay)
        self._timer = None
        if self.budget is not None:
            self.budget.sent(id(self))
        try:
            await self.flush()
        except Exception as exc:
            self._failed = exc

    def _take(self) -> list[Event]:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch: list[Event] = [PartDelta(t, n, p, "".join(texts)) for (t, n, p), texts in self._pending.items()]
        self._pending.clear()
        return batch

    async def _send(self, batch: list[Event]) -> None:
        async with self._lock:
            self._last_sent = self.clock()
            await self.send(batch)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
