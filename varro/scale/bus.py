"""Pub/sub between processes about users' sessions.

"taken": user U's session was claimed under epoch E by process P; every process listens, and the one holding U
under an older epoch ends its session and tells its tab. "released": that process has ended it (its last turn
is stored), so P may open the chat now and find everything. A message lost while Redis is away is covered by
the lease itself: the old holder's next renewal fails, and P waits no longer than the old holder lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class News:
    kind: Literal["taken", "released"]
    user_id: int
    epoch: int  # taken: the new claim's; released: the claim that ended
    owner: str  # the process that sent it
    previous: str = ""  # taken: the lease it replaced ("{owner}:{epoch}"), whose holder should answer "released"


Handler = Callable[[News], Awaitable[None]]


class Bus:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis, self.channel = redis, f"{prefix}sessions"
        self._task: asyncio.Task[None] | None = None
        self._handling: set[asyncio.Task[None]] = set()  # referenced until done, or they may be collected

    async def publish(self, news: News) -> None:
        await self.redis.publish(self.channel, json.dumps([news.kind, news.user_id, news.epoch, news.owner, news.previous]))

    async def listen(self, handler: Handler) -> None:
        """Subscribe (done when this returns), then hand each message to `handler`."""
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.channel)
        self._task = asyncio.create_task(self._read(pubsub, handler))

    async def _read(self, pubsub: PubSub, handler: Handler) -> None:
        while True:
            try:
                async for message in pubsub.listen():
                    # Each in a task: ending a session takes a while, and a "released" for another claim of ours
                    # must not wait behind it.
                    task = asyncio.create_task(self._handle(message, handler))
                    self._handling.add(task)
                    task.add_done_callback(self._handling.discard)
            except (RedisError, OSError) as e:  # Redis away: listen again (it subscribes anew once it is back)
                log.warning("lost Redis pub/sub (%s); listening again", e)
                await asyncio.sleep(1)

    async def _handle(self, message: dict[str, Any], handler: Handler) -> None:
        try:
            kind, user_id, epoch, owner, previous = json.loads(message["data"])
            await handler(News(kind, int(user_id), int(epoch), str(owner), str(previous)))
        except Exception:  # one bad message or handler must not end the listening
            log.exception("handling a session message failed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
