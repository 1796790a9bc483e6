"""Kernels whose tab has gone, kept alive for a while so that a reload or a return finds them as they were.

When a chat's session ends (the tab closed, reloaded, or moved to another chat), its kernel is parked here
instead of being shut down: for `idle_s` seconds a new session on the same chat takes it back, with every name as
it was and nothing re-run. Past that, or past the caps (kernels per user, kernels per server; the least recently
parked goes first), it is shut down, and the next session on that chat restores the shell the old way.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict

from varro.shell.kernel import KernelShell

log = logging.getLogger(__name__)

Key = tuple[int, int]  # (user id, chat id)


class KernelKeeper:
    def __init__(self, idle_s: float = 600.0, per_user: int = 2, per_server: int = 50) -> None:
        self.idle_s = idle_s
        self.per_user = per_user  # live and parked together: a user's live session holds one of them
        self.per_server = per_server
        self._parked: OrderedDict[Key, KernelShell] = OrderedDict()  # oldest first
        self._expiry: dict[Key, asyncio.Task[None]] = {}

    def __len__(self) -> int:
        return len(self._parked)

    def __contains__(self, key: Key) -> bool:
        return key in self._parked

    async def park(self, key: Key, kernel: KernelShell) -> None:
        """Keep `kernel` for `key`'s chat; shut it down instead if it is not worth keeping or nothing may be kept."""
        if self.idle_s <= 0 or kernel.status != "idle" or self.per_user < 2:
            await kernel.shutdown()
            return
        await self._drop(key)
        self._parked[key] = kernel
        self._expiry[key] = asyncio.create_task(self._expire(key, kernel))
        user_keys = [k for k in self._parked if k[0] == key[0]]
        for old in user_keys[: max(0, len(user_keys) - (self.per_user - 1))]:
            await self._drop(old)
        while len(self._parked) > self.per_server:
            await self._drop(next(iter(self._parked)))

    def claim(self, key: Key) -> KernelShell | None:
        """The kernel parked for `key`'s chat, taken out of the keeper; None if there is none alive."""
        kernel = self._parked.pop(key, None)
        if (task := self._expiry.pop(key, None)) is not None:
            task.cancel()
        if kernel is not None and kernel.status != "idle":
            asyncio.get_running_loop().create_task(kernel.shutdown())  # died while parked
            return None
        return kernel

    async def _expire(self, key: Key, kernel: KernelShell) -> None:
        await asyncio.sleep(self.idle_s)
        if self._parked.get(key) is kernel:
            self._expiry.pop(key, None)
            del self._parked[key]
            log.info("kernel of chat %s let go after %.0f s idle", key[1], self.idle_s)
            await kernel.shutdown()

    async def _drop(self, key: Key) -> None:
        kernel = self._parked.pop(key, None)
        if (task := self._expiry.pop(key, None)) is not None:
            task.cancel()
        if kernel is not None:
            await kernel.shutdown()

    async def close_all(self) -> None:
        """Server shutdown: every kept kernel goes at once."""
        for task in self._expiry.values():
            task.cancel()
        kernels, self._parked, self._expiry = list(self._parked.values()), OrderedDict(), {}
        await asyncio.gather(*(k.shutdown() for k in kernels), return_exceptions=True)
