"""A chat's folder held to its quota while a cell runs, and what the cell changed there.

The folder is an ordinary folder on the host's disk (it outlives kernels), so nothing bounds it but this: while a
cell runs its size is measured; past the quota the kernel is restarted and the files the cell created or grew are
removed, so a disk fill ends with a clear message and what was there before the cell stays.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from varro.kernels import folder as chat_folder
from varro.kernels.quota import Listing, WorkdirQuota

log = logging.getLogger(__name__)

INTERVAL = 0.25  # how often a running cell's folder is measured


class CellWatch:
    def __init__(self, quota: WorkdirQuota, stop_kernel: Callable[[], Awaitable[None]]) -> None:
        self.quota = quota
        self._stop_kernel = stop_kernel
        self._before: Listing = {}
        self._files: chat_folder.Listing = {}
        self.removed: list[str] | None = None  # set once the quota tripped and the cell's files are gone
        self._tripped = False  # the kernel is being stopped: the trip must finish, not be cancelled
        self._task: asyncio.Task[None] | None = None

    async def begin(self) -> None:
        self._before = await asyncio.to_thread(self.quota.listing)
        self._files = await asyncio.to_thread(chat_folder.listing, self.quota.workdir)
        self._task = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(INTERVAL)
            if await asyncio.to_thread(self.quota.over):
                await self._trip()
                return

    async def _trip(self) -> None:
        self._tripped = True
        log.info("%s passed its quota: kernel restarted, the cell's files removed", self.quota.workdir)
        await self._stop_kernel()
        self.removed = await asyncio.to_thread(self.quota.undo_growth, self._before)

    async def end(self) -> dict[str, Any]:
        """The cell is over: what it changed at the top of the folder, and the quota's verdict."""
        if self._task is not None:
            # A trip under way has killed the kernel, which is why the cell ended: cancelling it then would lose the
            # verdict (and leave its removal running in a thread), so the cell's end waits for it.
            if not self._tripped:
                self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.removed is None and await asyncio.to_thread(self.quota.over):  # written faster than the watch looked
            await self._trip()
        after = await asyncio.to_thread(chat_folder.listing, self.quota.workdir)
        quota = None if self.removed is None else {"removed": self.removed, "limit_mb": self.quota.limit // 2**20}
        return {"changed": chat_folder.changed(self._files, after), "quota": quota}
