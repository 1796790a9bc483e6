"""How many frames of deltas a second this process spends on its streams, shared out among them.

A frame has a fixed cost whatever it carries (render the open part, pass it down the ASGI stack, frame and
compress it, write it to a socket): on a loaded process frames, not tokens, are what fills the core. So the
process has a budget of frames a second, and each stream's flush window is its share of it: with `n` streams
sending, a stream sends at most `per_second / n` frames a second, its window `n / per_second` seconds. A lone
user's window is far below the flush window and stays as it was; forty streams on one core each show about
twenty frames a second (docs/benchmarks.md, "Streams one core keeps at real time"). Unlike the loop's lag,
which shows only once the loop is already behind, the count of streams is known before they fall behind.

A stream counts while it sent a frame of deltas within the last `recent_s`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

RECENT_S = 0.5  # a stream that sent no delta for this long no longer counts


class FrameBudget:
    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic,
                 recent_s: float = RECENT_S) -> None:
        self.per_second = per_second
        self.clock = clock
        self.recent_s = recent_s
        self._last: dict[int, float] = {}  # a stream's key -> when it last sent deltas
        self._pruned = clock()

    def sent(self, stream: int) -> None:
        """`stream` sent a frame of deltas now."""
        now = self.clock()
        self._last[stream] = now
        if now - self._pruned > self.recent_s:  # at most once per `recent_s`: a frame costs O(1)
            old = now - self.recent_s
            self._last = {k: t for k, t in self._last.items() if t >= old}
            self._pruned = now

    def streams(self) -> int:
        return len(self._last)

    def window(self) -> float:
        """Seconds between two frames of one stream, for the process to stay within its budget; 0: no budget."""
        return len(self._last) / self.per_second if self.per_second > 0 else 0.0
