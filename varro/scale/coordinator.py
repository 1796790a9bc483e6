"""Who holds each user's live session across processes, behind the one interface LiveSessions uses.

`SingleProcess` (the default, no Redis) is what one process always did: nothing to take, nothing to fence.
`RedisCoordinator` takes a lease per user (lease.py), renews the leases it holds while the process lives,
announces each take (bus.py), and calls `on_lost` when another process took a user or a renewal failed.
A claim that took the user from another live process waits until that process has ended its session (its
running turn stopped and stored), so the chat opens here with everything in it; from a dead process (no
heartbeat) it takes over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from varro.scale.bus import Bus, News
from varro.scale.errors import Unavailable
from varro.scale.lease import Lease, Leases
from varro.scale.runlog import RunHub

log = logging.getLogger(__name__)

# Called with (user, epoch): a session of this user under an older epoch must end here, its tab told "replaced".
OnLost = Callable[[int, int], Awaitable[None]]


class Coordinator(Protocol):
    async def claim(self, user_id: int) -> int:
        """Take the user's live session for this process; returns its epoch (raises Unavailable)."""
        ...

    async def release(self, user_id: int, epoch: int) -> None: ...

    def fence(self, user_id: int) -> int | None:
        """The epoch writes of the user's session carry, or None when nothing needs fencing."""
        ...

    async def runs(self, user_id: int) -> set[int]:
        """The user's chats with a turn running on any process (this one's included)."""
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

    async def runs(self, user_id: int) -> set[int]:
        return set()  # this process's own are all there are

    async def start(self, on_lost: OnLost) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisCoordinator:
    def __init__(self, redis: Redis, prefix: str = "varro:", ttl_s: float = 5.0, handover_s: float = 30.0) -> None:
        self.redis, self.prefix = redis, prefix
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.leases = Leases(redis, prefix, self.owner, ttl_s)
        self.bus = Bus(redis, prefix)
        self.hub = RunHub(redis, prefix, self.owner)  # running answers, reachable from every process
        self.ttl_s = ttl_s
        self.handover_s = handover_s  # the longest wait for a live process to end a session it is losing
        self._held: dict[int, Lease] = {}
        self._released: dict[tuple[int, int], asyncio.Event] = {}  # (user, epoch) whose end a claim awaits
        self._on_lost: OnLost | None = None
        self._renewer: asyncio.Task[None] | None = None

    def _alive_key(self, owner: str) -> str:
        return f"{self.prefix}alive:{owner}"

    async def claim(self, user_id: int) -> int:
        try:
            lease = await self.leases.take(user_id)
            self._held[user_id] = lease
            other = lease.previous if lease.previous and not lease.previous.startswith(self.owner + ":") else None
            ended = self._released.setdefault((user_id, int(other.rsplit(":", 1)[1])), asyncio.Event()) if other else None
            await self.bus.publish(News("taken", user_id, lease.epoch, self.owner, lease.previous or ""))
            if other is not None and ended is not None:
                await self._handed_over(lease, other, ended)
        except (RedisError, OSError) as e:
            raise Unavailable(f"Redis: {e}") from e
        return lease.epoch

    async def _handed_over(self, lease: Lease, previous: str, ended: asyncio.Event) -> None:
        """Wait until the previous holder says it ended its session, or is found dead, or a newer claim took the
        user from us meanwhile (then our session is evicted as soon as it opens, which that claim awaits)."""
        owner, epoch = previous.rsplit(":", 1)
        deadline = time.monotonic() + self.handover_s
        try:
            while not ended.is_set() and time.monotonic() < deadline and self._held.get(lease.user_id) is lease:
                if not await self.redis.exists(self._alive_key(owner)):
                    return  # it died: its unstored turn is lost with it, and nothing of it can write any more
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ended.wait(), 0.1)
        finally:
            self._released.pop((lease.user_id, int(epoch)), None)

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

    async def runs(self, user_id: int) -> set[int]:
        try:
            return await self.hub.running(user_id)
        except (RedisError, OSError) as e:  # Redis away: the cap counts this process's runs only, as it once did
            log.warning("could not count user %s's runs on other processes (%s)", user_id, e)
            return set()

    async def start(self, on_lost: OnLost) -> None:
        self._on_lost = on_lost
        try:
            await self.redis.set(self._alive_key(self.owner), 1, px=self.leases.ttl_ms)
            await self.bus.listen(self._news)
        except (RedisError, OSError) as e:  # no start without it: sessions could not be kept one per user
            raise Unavailable(f"Redis is unreachable at start-up ({e}); VARRO_REDIS_URL must point to it") from e
        self._renewer = asyncio.create_task(self._renew_forever())

    async def _news(self, news: News) -> None:
        if news.owner == self.owner:
            return
        if news.kind == "released":
            if (ended := self._released.get((news.user_id, news.epoch))) is not None:
                ended.set()
            return
        lease = self._held.get(news.user_id)
        if lease is not None and lease.epoch < news.epoch:
            await self._lose(lease, news.epoch)
        if news.previous.startswith(self.owner + ":"):  # the claim replaced ours: it waits to hear we are done
            epoch = int(news.previous.rsplit(":", 1)[1])
            await self.bus.publish(News("released", news.user_id, epoch, self.owner))

    async def _lose(self, lease: Lease, newer: int) -> None:
        if self._held.get(lease.user_id) is lease:
            del self._held[lease.user_id]
        if self._on_lost is not None:
            await self._on_lost(lease.user_id, newer)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.ttl_s / 3)
            try:
                await self.redis.set(self._alive_key(self.owner), 1, px=self.leases.ttl_ms)
            except (RedisError, OSError):
                log.warning("Redis unreachable: could not renew this process's heartbeat")
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
        await self.hub.close()
        for lease in list(self._held.values()):
            await self.release(lease.user_id, lease.epoch)
        with contextlib.suppress(RedisError, OSError):
            await self.redis.delete(self._alive_key(self.owner))
        await self.redis.aclose()


def make_coordinator(redis_url: str | None, prefix: str = "varro:", ttl_s: float = 5.0) -> Coordinator:
    return RedisCoordinator(Redis.from_url(redis_url), prefix, ttl_s) if redis_url else SingleProcess()
