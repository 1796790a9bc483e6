"""The event-loop lag monitor: a blocked loop shows in its figures and in the log."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from app.lag import LoopLag


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
