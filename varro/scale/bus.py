"""Pub/sub between processes: "user U's session was taken under epoch E by process P".

Every process listens; the one holding U under an older epoch ends its session and tells its tab. A message
lost while Redis is away is covered by the lease itself: the old holder's next renewal fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Taken:
    user_id: int
    epoch: int
    owner: str


class Bus:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis, self.channel = redis, f"{prefix}taken"
        self._task: asyncio.Task[None] | None = None

    async def publish(self, taken: Taken) -> None:
        await self.redis.publish(self.channel, json.dumps([taken.user_id, taken.epoch, taken.owner]))

    async def listen(self, on_taken: Callable[[Taken], Awaitable[None]]) -> None:
        """Subscribe (done when this returns), then hand each message to `on_taken` in a task of its own."""
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self.channel)
        self._task = asyncio.create_task(self._read(pubsub, on_taken))

    async def _read(self, pubsub: PubSub, on_taken: Callable[[Taken], Awaitable[None]]) -> None:
        while True:
            try:
                async for message in pubsub.listen():
                    await self._handle(message, on_taken)
            except (RedisError, OSError) as e:  # Redis away: listen again (it subscribes anew once it is back)
                log.warning("lost Redis pub/sub (%s); listening again", e)
                await asyncio.sleep(1)

    async def _handle(self, message: dict[str, Any], on_taken: Callable[[Taken], Awaitable[None]]) -> None:
        try:
            user_id, epoch, owner = json.loads(message["data"])
            await on_taken(Taken(int(user_id), int(epoch), str(owner)))
        except Exception:  # one bad message or handler must not end the listening
            log.exception("handling a lease message failed")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
