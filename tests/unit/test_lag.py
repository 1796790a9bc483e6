"""The event-loop lag monitor: a blocked loop shows in its figures and in the log."""

from __future__ import annotations

import asyncio
import gc
import logging
import time

import pytest

from app.lag import LoopLag, freeze_startup_heap


async def test_a_blocked_loop_is_measured_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    lag = LoopLag(tick=0.01, warn_s=0.1)
    lag.start()
    with caplog.at_level(logging.WARNING, logger="varro.lag"):
        await asyncio.sleep(0.05)
        time.sleep(0.2)  # noqa: ASYNC251  (blocking the loop on purpose: what a slow render on it did)
        await asyncio.sleep(0.05)
    await lag.stop()
    assert lag.summary()["max_ms"] >= 150
    assert "the event loop was blocked for" in caplog.text
    lag.clear()
    assert lag.summary()["n"] == 0


def test_what_start_up_made_is_out_of_the_collectors_reach() -> None:
    kept = [[i] for i in range(1000)]  # containers: tracked by the collector
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() >= len(kept)
        assert not any(o is kept[0] for o in gc.get_objects())  # a collection walks none of them
    finally:
        gc.unfreeze()
