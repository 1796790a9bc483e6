"""Wait for a condition instead of sleeping for a guessed time: fast when things are quick, patient under load."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def until(condition: Callable[[], bool], what: str, within_s: float = 30) -> None:
    """Poll `condition` every few milliseconds; fail with `what` if it is still false after `within_s` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"still waiting after {within_s} s for {what}")
        await asyncio.sleep(0.005)


async def until_true(condition: Callable[[], Awaitable[bool]], what: str, within_s: float = 30) -> None:
    """`until` for a condition that has to ask something (Redis, the database): polled every 20 ms."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_s
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError(f"still waiting after {within_s} s for {what}")
        await asyncio.sleep(0.02)
