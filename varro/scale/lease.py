"""A lease per user in Redis: which process holds the user's live session, under which epoch.

The key `{prefix}lease:{user}` holds `{owner}:{epoch}` and expires unless renewed, so a process that dies
gives its users up within one TTL. Every take raises the user's epoch (`{prefix}epoch:{user}`), so a write
carrying an older epoch can be refused (varro/db/crud/turn.py fences on it). An epoch is at least Redis's
clock in milliseconds: the database keeps the newest epoch that wrote, so epochs must keep rising even when
Redis restarts empty. Each step is one Lua script: take, renew and release can't interleave with another's.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

TAKE = """
local now = redis.call('TIME')
local epoch = math.max(redis.call('INCR', KEYS[2]), now[1] * 1000 + math.floor(now[2] / 1000))
redis.call('SET', KEYS[2], epoch)
local previous = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. epoch, 'PX', ARGV[2])
return {epoch, previous}
"""
# Compare-and-act: only the holder of this very epoch may renew or release (a stale one finds another value).
# A lease that vanished with nobody taking it since (Redis was away past the TTL, or restarted) is set again.
RENEW = """
local held = redis.call('GET', KEYS[1])
if held == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if held == false and tonumber(redis.call('GET', KEYS[2]) or '0') <= tonumber(ARGV[3]) then
  redis.call('SET', KEYS[2], ARGV[3])
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


@dataclass(frozen=True)
class Lease:
    user_id: int
    epoch: int
    token: str  # the key's value while this lease holds: "{owner}:{epoch}"
    previous: str | None = None  # the token this take replaced: another holder, who may still be ending its session


class Leases:
    """Take, renew and release users' leases for one process (`owner`, unique per process)."""

    def __init__(self, redis: Redis, prefix: str, owner: str, ttl_s: float) -> None:
        self.redis, self.prefix, self.owner = redis, prefix, owner
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self._take = redis.register_script(TAKE)
        self._renew = redis.register_script(RENEW)
        self._release = redis.register_script(RELEASE)

    def key(self, user_id: int) -> str:
        return f"{self.prefix}lease:{user_id}"

    def keys(self, user_id: int) -> list[str]:
        return [self.key(user_id), f"{self.prefix}epoch:{user_id}"]

    async def take(self, user_id: int) -> Lease:
        """The user's lease for this process, whoever held it: the newest tab wins."""
        epoch, previous = await self._take(keys=self.keys(user_id), args=[self.owner, self.ttl_ms])
        if isinstance(previous, bytes):
            previous = previous.decode()
        return Lease(user_id, int(epoch), f"{self.owner}:{epoch}", previous)

    async def renew(self, lease: Lease) -> bool:
        """Extend the lease by a TTL; False when it was lost (expired, or taken by another process)."""
        return bool(await self._renew(keys=self.keys(lease.user_id), args=[lease.token, self.ttl_ms, lease.epoch]))

    async def release(self, lease: Lease) -> bool:
        """Give the lease up, unless another process holds the user already."""
        return bool(await self._release(keys=[self.key(lease.user_id)], args=[lease.token]))

    async def holder(self, user_id: int) -> str | None:
        """`{owner}:{epoch}` of the live session, or None when no process has one."""
        value = await self.redis.get(self.key(user_id))
        return value.decode() if isinstance(value, bytes) else value
