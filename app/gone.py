"""Work for an HTTP request that stops when its client goes: a closed tab or an aborted fetch cancels it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request

T = TypeVar("T")


class ClientGone(Exception):
    """The client closed the connection before the answer was ready; the work for it was cancelled."""


async def _disconnected(req: Request) -> None:
    while (await req.receive())["type"] != "http.disconnect":
        pass


async def unless_gone(req: Request, work: Awaitable[T]) -> T:
    """`work`'s result; ClientGone if the client disconnects first, with `work` cancelled (and awaited, so whatever
    it holds, a database statement above all, is released before this returns)."""
    task = asyncio.ensure_future(work)
    gone = asyncio.ensure_future(_disconnected(req))
    try:
        await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in (task, gone):
            if not t.done():
                t.cancel()
        await asyncio.gather(task, gone, return_exceptions=True)
    if task.cancelled():
        raise ClientGone
    return task.result()
