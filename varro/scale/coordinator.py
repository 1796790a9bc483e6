"""Who holds each user's live session across processes, behind the one interface LiveSessions uses.

`SingleProcess` (the default, no Redis) is what one process always did: nothing to take, nothing to fence.
`RedisCoordinator` takes a lease per user (lease.py), renews the leases it holds while the process lives,
announces each take (bus.py), and calls `on_lost` when another process took a user or a renewal failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from varro.scale.bus import Bus, Taken
from varro.scale.lease import Lease, Leases

log = logging.getLogger(__name__)

# Called with (user, epoch): a session of this user under an older epoch must end here, its tab told "replaced".
OnLost = Callable[[int, int], Awaitable[None]]


class Unavailable(Exception):
    """The coordination service can't be reached: no session can be taken safely."""


class Coordinator(Protocol):
    async def claim(self, user_id: int) -> int:
        """Take the user's live session for this process; returns its epoch (raises Unavailable)."""
        ...

    async def release(self, user_id: int, epoch: int) -> None: ...

    def fence(self, user_id: int) -> int | None:
        """The epoch writes of the user's session carry, or None when nothing needs fencing."""
        ...

    async def start(self, on_lost: OnLost) -> None: ...

    async def close(self) -> None: ...


class SingleProcess:
    """One process: its own memory is the truth, as it always was."""

    async def claim(self, user_id: int) -> int:
        return 0

    async def release(self, user_id: int, epoch: int) -> None:
        return None

    def fence(self, user_id: int) -> int | None:
        return None

    async def start(self, on_lost: OnLost) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisCoordinator:
    def __init__(self, redis: Redis, prefix: str = "varro:", ttl_s: float = 10.0) -> None:
        self.redis = redis
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.leases = Leases(redis, prefix, self.owner, ttl_s)
        self.bus = Bus(redis, prefix)
        self.ttl_s = ttl_s
        self._held: dict[int, Lease] = {}
        self._on_lost: OnLost | None = None
        self._renewer: asyncio.Task[None] | None = None

    async def claim(self, user_id: int) -> int:
        try:
            lease = await self.leases.take(user_id)
            self._held[user_id] = lease
            await self.bus.publish(Taken(user_id, lease.epoch, self.owner))
        except (RedisError, OSError) as e:
            raise Unavailable(f"Redis: {e}") from e
        return lease.epoch

    async def release(self, user_id: int, epoch: int) -> None:
        lease = self._held.get(user_id)
        if lease is None or lease.epoch != epoch:
            return  # a newer claim of this process holds the user now
        del self._held[user_id]
        with contextlib.suppress(RedisError, OSError):  # unreachable: the lease expires by itself
            await self.leases.release(lease)

    def fence(self, user_id: int) -> int | None:
        lease = self._held.get(user_id)
        return lease.epoch if lease is not None else None

    async def start(self, on_lost: OnLost) -> None:
        self._on_lost = on_lost
        await self.bus.listen(self._taken)
        self._renewer = asyncio.create_task(self._renew_forever())

    async def _taken(self, taken: Taken) -> None:
        lease = self._held.get(taken.user_id)
        if taken.owner != self.owner and lease is not None and lease.epoch < taken.epoch:
            await self._lose(lease, taken.epoch)

    async def _lose(self, lease: Lease, newer: int) -> None:
        if self._held.get(lease.user_id) is lease:
            del self._held[lease.user_id]
        if self._on_lost is not None:
            await self._on_lost(lease.user_id, newer)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.ttl_s / 3)
            for lease in list(self._held.values()):
                try:
                    kept = await self.leases.renew(lease)
                except (RedisError, OSError):
                    log.warning("Redis unreachable: could not renew user %s's lease", lease.user_id)
                    continue  # it may come back within the TTL; if not, the next renewal finds the lease gone
                if not kept:
                    await self._lose(lease, lease.epoch + 1)

    async def close(self) -> None:
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        await self.bus.close()
        for lease in list(self._held.values()):
            await self.release(lease.user_id, lease.epoch)
        await self.redis.aclose()


def make_coordinator(redis_url: str | None, prefix: str = "varro:", ttl_s: float = 10.0) -> Coordinator:
    return RedisCoordinator(Redis.from_url(redis_url), prefix, ttl_s) if redis_url else SingleProcess()
