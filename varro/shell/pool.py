"""Kernels started before they are needed, so the first cell of a new chat does not wait for a process to start.

A pooled kernel starts sandboxed like any other, in an empty folder of its own under `pool_dir`. When a chat
needs a kernel, it takes one from the pool and the folder becomes the chat's (`KernelShell.adopt_workdir`): the
chat's files move in, and the folder is renamed to the chat's path. The sandbox's bind mount follows the folder,
not its name, so the kernel sees the chat's files at /home/user. The pool refills in the background.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

from varro.shell.kernel import KernelShell

log = logging.getLogger(__name__)


class KernelPool:
    def __init__(self, size: int, pool_dir: Path, make: Callable[[Path], KernelShell]) -> None:
        self.size = size
        self.pool_dir = Path(pool_dir)
        self._make = make
        self._ready: list[KernelShell] = []
        self._filling: asyncio.Task[None] | None = None
        self._closed = False

    def __len__(self) -> int:
        return len(self._ready)

    def fill(self) -> None:
        """Start kernels in the background until `size` are ready."""
        if self.size > 0 and not self._closed and (self._filling is None or self._filling.done()):
            self._filling = asyncio.get_running_loop().create_task(self._fill())

    async def _fill(self) -> None:
        while not self._closed and len(self._ready) < self.size:
            kernel = self._make(self.pool_dir / uuid.uuid4().hex[:12])
            try:
                await kernel.start()
            except Exception:  # noqa: BLE001  (no sandbox, say: chats start their own kernels and say why)
                log.warning("could not start a kernel for the pool", exc_info=True)
                await kernel.shutdown()
                return
            if self._closed:
                await kernel.shutdown()
                return
            self._ready.append(kernel)

    async def take(self, workdir: Path) -> KernelShell | None:
        """A started kernel whose folder is now `workdir` (the chat's files moved in); None if none is ready."""
        while self._ready:
            kernel = self._ready.pop(0)
            self.fill()
            if kernel.status != "idle":
                await kernel.shutdown()
                continue
            try:
                await asyncio.to_thread(kernel.adopt_workdir, workdir)
            except OSError:
                log.warning("a pooled kernel could not take %s", workdir, exc_info=True)
                await kernel.shutdown()
                continue
            return kernel
        self.fill()
        return None

    async def close(self) -> None:
        self._closed = True
        filling, self._filling = self._filling, None
        if filling is not None and not filling.done():
            filling.cancel()
            if filling.get_loop() is asyncio.get_running_loop():  # a test client may close on another loop
                await asyncio.gather(filling, return_exceptions=True)
        kernels, self._ready = self._ready, []
        for kernel in kernels:
            try:
                await kernel.shutdown()
            except Exception:  # noqa: BLE001  (its loop is gone: the sandbox dies with this process anyway)
                log.warning("a pooled kernel did not shut down cleanly", exc_info=True)
        await asyncio.to_thread(shutil.rmtree, self.pool_dir, True)
