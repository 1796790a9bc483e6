"""The event loop's lag, watched all the time: a regression that blocks the loop shows in the log (and in tests).

Everything on the loop runs between two wake-ups of a task that sleeps `tick` seconds over and over: how late
it wakes is how long the loop was blocked. A stall past `warn_s` is logged with its length; `summary()` gives
the percentiles since the last `clear()` (the security tests' host serves them at `/_lag`). `recent()` is the
lateness of the last few ticks (a moving average), which widens the streams' flush window under load
(varro/chat/coalesce.py).

`freeze_startup_heap()` removes one stall no code of ours causes: the garbage collector's full passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import statistics
import time
from collections import deque

log = logging.getLogger("varro.lag")

RECENT_WEIGHT = 0.1  # a new tick's share of `recent()`: a stall shows at once and fades over ~100 ms


class LoopLag:
    def __init__(self, tick: float = 0.01, warn_s: float = 0.25, keep: int = 100_000) -> None:
        self.tick = tick
        self.warn_s = warn_s
        self.samples: deque[float] = deque(maxlen=keep)  # seconds late, newest last (10 minutes at 10 ms)
        self.task: asyncio.Task[None] | None = None
        self._recent = 0.0  # seconds late, averaged over about the last ten ticks

    def recent(self) -> float:
        return self._recent

    def record(self, late: float) -> None:
        self.samples.append(late)
        self._recent += (late - self._recent) * RECENT_WEIGHT
        if late > self.warn_s:
            log.warning("the event loop was blocked for %.0f ms", late * 1000)

    def start(self) -> None:
        self.task = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task

    async def _watch(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(self.tick)
            self.record(max(0.0, time.perf_counter() - start - self.tick))

    def clear(self) -> None:
        self.samples.clear()

    def summary(self) -> dict[str, float]:
        data = sorted(self.samples)
        if len(data) < 2:
            return {"n": len(data), "p50_ms": 0.0, "p99_ms": 0.0, "max_ms": 0.0}
        q = statistics.quantiles(data, n=100, method="inclusive")
        return {"n": len(data), "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000, "max_ms": data[-1] * 1000}


def freeze_startup_heap() -> None:
    """Put everything start-up made (modules, the agent, the app's state) out of the cyclic collector's reach.

    A full collection walks every tracked object, and one runs every so often under load: with the ~200,000
    objects a started server holds, each took about 100 ms of the event loop on the shared 2-core machine, the
    longest stall left under tests/security/test_combined_load.py. Frozen objects are not walked again (nor
    freed, should they become garbage, hence the collection first). Process-wide; once, at start-up.
    """
    gc.collect()
    gc.freeze()
