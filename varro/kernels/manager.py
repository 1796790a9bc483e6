"""One kernel per chat, within caps: jupyter_server's kernel manager, keyed by chat.

A kernel start names its chat in the standard `path` field (`"space/user/chat"`); the chat's live kernel is returned if it
has one, so concurrent starts for one chat (several tool calls in one reply, two web processes) share one kernel.
A new kernel is taken from the pool of kernels started ahead (its empty folder becomes the chat's) or launched in
the chat's folder. Caps: a user's kernels beyond `per_user` and the host's beyond `per_server` make room by letting
the least recently active go; kernels nobody is connected to are culled after `idle_s` (jupyter_server's culler).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from tornado import web

from varro.kernels import fs
from varro.kernels.chats import ChatKey
from varro.kernels.pooled import adopt
from varro.kernels.quota import WorkdirQuota
from varro.kernels.sandbox.plan import Isolation, NoSandbox, Refused, Sandbox, Unavailable
from varro.kernels.store import ChatStore, LocalStore
from varro.kernels.watch import CellWatch

log = logging.getLogger(__name__)

KERNEL_NAME = "varro"
RESTART_WAIT = 30.0  # how long a shutdown waits for a restart under way


class ChatKernelManager(AsyncMappingKernelManager):
    """Set up by `varro.kernels.server.KernelHost` before it serves (the fields below are not traitlets)."""

    isolation: Isolation = Refused("the kernel host is not set up")
    root: Path = Path("data/kernels")
    memory_mb: int = 2048
    kernel_env: dict[str, str] = {}
    per_user: int = 2
    per_server: int = 50
    pool_size: int = 0
    workdir_mb: int = 1024
    store: ChatStore = LocalStore()

    @property
    def kernel_python(self) -> Path | None:
        """The kernels' own Python (its environment lists the packages a notebook names)."""
        isolation = self.isolation
        return isolation.kernel_python if isinstance(isolation, Sandbox) else (
            isolation.python if isinstance(isolation, NoSandbox) else None)
    set_up = False  # set up: the host answers health checks from then on

    def setup(self) -> None:
        self._chat_kernel: dict[ChatKey, str] = {}
        self._chat_of: dict[str, ChatKey] = {}
        self._locks: defaultdict[ChatKey, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._admission = asyncio.Lock()
        self._pool: list[str] = []
        self._filling: asyncio.Task[None] | None = None
        self._cells: dict[ChatKey, CellWatch] = {}
        self._served: set[ChatKey] = set()  # chats whose folder this host process brought up to date
        # When each chat's kernel was last used (started, a cell begun or ended), as the caps read it. Not
        # jupyter_server's `last_activity`: a watcher on another iopub socket records that, and may record a cell
        # after the web tier has heard of its end, so a chat just used could be let go before one left alone.
        self._used: dict[str, float] = {}
        (self.root / "chats").mkdir(parents=True, exist_ok=True)
        # Pooled kernels' folders, per host process: a host that ended left nobody's files there.
        self.pool_dir = self.root / "pool" / str(os.getpid())
        self.pool_dir.parent.mkdir(parents=True, exist_ok=True)
        for stale in self.pool_dir.parent.iterdir():
            if not stale.name.isdigit() or not Path(f"/proc/{stale.name}").exists():
                shutil.rmtree(stale, ignore_errors=True)
        self.pool_dir.mkdir(exist_ok=True)
        self.set_up = True

    # --- which kernel is a chat's -------------------------------------------------------------------------------

    def kernel_of(self, key: ChatKey) -> str | None:
        """The chat's kernel if one runs here."""
        kernel_id = self._chat_kernel.get(key)
        return kernel_id if kernel_id is not None and kernel_id in self else None

    def chat_of(self, kernel_id: str) -> ChatKey | None:
        return self._chat_of.get(kernel_id)

    def kernel_model(self, kernel_id: str) -> dict[str, Any]:
        # Which chat a kernel is (space/user/chat), so an operator or a test reading /api/kernels can tell them apart.
        model: dict[str, Any] = super().kernel_model(kernel_id)  # type: ignore[no-untyped-call]
        if (key := self._chat_of.get(kernel_id)) is not None:
            model["chat"] = str(key)
        return model

    def list_kernels(self) -> list[dict[str, Any]]:
        # Pooled kernels are nobody's yet: not listed, so no client connects to one.
        return [self.kernel_model(k) for k in list(self._kernels) if k in self._chat_of]

    async def start_kernel(self, *, kernel_id: str | None = None, path: str | None = None,  # type: ignore[override]
                           **kwargs: Any) -> str:
        if kernel_id is not None and kernel_id in self:
            return kernel_id
        try:
            key = ChatKey.parse(path or "")
        except ValueError:
            raise web.HTTPError(400, "a kernel is started for a chat: path must be 'space/user/chat'") from None
        await self.ready(key)
        async with self._locks[key]:
            if (running := self.kernel_of(key)) is not None:
                return running
            # One admission at a time: starts of other chats counted, made room for and registered in turn, or two
            # of one user's chats starting together would both find room for one.
            async with self._admission:
                await self._make_room(key)
                folder = key.folder(self.root)
                kernel_id = await self._take_pooled(folder)
                if kernel_id is None:
                    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
                    kernel_id = await self._launch(folder, **kwargs)
                self._chat_kernel[key] = kernel_id
                self._chat_of[kernel_id] = key
                self._used[kernel_id] = time.monotonic()
            self.fill_pool()
            return kernel_id

    async def _launch(self, folder: Path, **kwargs: Any) -> str:
        kwargs.setdefault("kernel_name", KERNEL_NAME)
        try:
            return await super().start_kernel(cwd=str(folder), **kwargs)
        except Unavailable as exc:
            raise web.HTTPError(503, str(exc)) from None

    # --- the chat's folder, kept in the store -------------------------------------------------------------

    async def ready(self, key: ChatKey) -> None:
        """Before this host process first serves a chat: its folder as the store has it (the chat may have lived on
        another host since this one last saw it)."""
        if key in self._served:
            return
        async with self._locks[key]:
            if key not in self._served and self.kernel_of(key) is None:
                await self.store.restore(key, key.folder(self.root))
            self._served.add(key)

    async def save(self, key: ChatKey) -> None:
        """The folder changed (a cell ran, a file came or went): the store gets what changed."""
        try:
            await self.store.save(key, key.folder(self.root))
        except Exception:  # noqa: BLE001  (the chat goes on here; a later save catches up)
            log.warning("chat %s: could not save its folder to the store", key, exc_info=True)

    async def forget(self, key: ChatKey) -> None:
        """The chat is deleted: its kernel stops, and its folder goes, here and in the store."""
        await self.shutdown_chat(key)
        await asyncio.to_thread(shutil.rmtree, key.folder(self.root), True)
        await self.store.delete(key)
        self._served.discard(key)

    # --- a cell's quota and fate -----------------------------------------------------------------------------

    async def begin_cell(self, key: ChatKey) -> None:
        """A cell starts in the chat's kernel: its folder is held to the quota until `end_cell`."""
        if (old := self._cells.pop(key, None)) is not None:
            await old.end()
        kernel_id = self.kernel_of(key)
        if kernel_id is None:
            raise web.HTTPError(404, "no kernel runs for this chat")
        provisioner: Any = self.get_kernel(kernel_id).provisioner
        provisioner.ended = {}
        self._used[kernel_id] = time.monotonic()
        quota = WorkdirQuota(key.folder(self.root), self.workdir_mb * 2**20)
        watch = self._cells[key] = CellWatch(quota, lambda: self._kill(kernel_id))
        await watch.begin()

    async def end_cell(self, key: ChatKey) -> dict[str, Any]:
        """What the cell changed, whether it passed the quota, and how the kernel ended if it did."""
        watch = self._cells.pop(key, None)
        result = await watch.end() if watch is not None else {"changed": [], "quota": None}
        kernel_id = self.kernel_of(key)
        provisioner = self.get_kernel(kernel_id).provisioner if kernel_id is not None else None
        result["ended"] = getattr(provisioner, "ended", None) or None
        if kernel_id is not None:
            self._used[kernel_id] = time.monotonic()
        await self.save(key)
        return result

    async def _kill(self, kernel_id: str) -> None:
        """Stop the kernel's processes at once, returning once they are gone; its restarter finds it dead and starts
        a fresh one, telling every connected client ("restarting"), as for any death."""
        if kernel_id in self:
            provisioner: Any = self.get_kernel(kernel_id).provisioner
            await provisioner.kill_all()

    # --- caps -------------------------------------------------------------------------------------------------

    async def _make_room(self, key: ChatKey) -> None:
        """Let the least recently active kernels go: the user's beyond `per_user - 1`, the host's beyond
        `per_server - 1`; so the new one fits."""
        users = [k for k, owner in self._chat_of.items()
                 if (owner.space, owner.user_id) == (key.space, key.user_id) and k in self]
        for kernel_id in self._oldest_first(users)[: max(0, len(users) - (self.per_user - 1))]:
            log.info("kernel of chat %s let go: its user starts another past the cap", self._chat_of.get(kernel_id))
            await self._let_go(kernel_id)
        everyone = [k for k in self._chat_of if k in self]
        for kernel_id in self._oldest_first(everyone)[: max(0, len(everyone) - (self.per_server - 1))]:
            log.info("kernel of chat %s let go: the host is at its cap", self._chat_of.get(kernel_id))
            await self._let_go(kernel_id)

    def _oldest_first(self, kernel_ids: list[str]) -> list[str]:
        return sorted(kernel_ids, key=lambda k: self._used.get(k, 0.0))

    async def shutdown_kernel(self, kernel_id: str, now: bool = False, restart: bool = False) -> None:  # type: ignore[override]
        """jupyter_server's shutdown, once a restart under way is over. jupyter_client's reads the kernel's `ready`
        future, which a restart (the restarter's, right after the kernel died) has replaced with one not done yet:
        InvalidStateError, and a chat deleted or reset just then answered 500."""
        if kernel_id in self and not (ready := self.get_kernel(kernel_id).ready).done():
            waiting = ready if isinstance(ready, asyncio.Future) else asyncio.wrap_future(ready)
            with contextlib.suppress(Exception):  # a restart that failed or hangs is the shutdown's to end
                await asyncio.wait_for(asyncio.shield(waiting), RESTART_WAIT)
        await super().shutdown_kernel(kernel_id, now=now, restart=restart)  # type: ignore[no-untyped-call]

    async def _let_go(self, kernel_id: str) -> None:
        try:
            await self.shutdown_kernel(kernel_id, now=True)
        except (KeyError, web.HTTPError):
            pass

    def remove_kernel(self, kernel_id: str) -> Any:
        key = self._chat_of.pop(kernel_id, None)
        self._used.pop(kernel_id, None)
        if key is not None and self._chat_kernel.get(key) == kernel_id:
            del self._chat_kernel[key]
        removed = super().remove_kernel(kernel_id)
        if key is not None:  # room again under the host's cap: the pool may have stopped short of it
            self.fill_pool()
        return removed

    async def shutdown_all(self, now: bool = False) -> None:  # type: ignore[override]
        self.pool_size = 0  # nothing refills while the host stops
        await super().shutdown_all(now=now)

    async def shutdown_chat(self, key: ChatKey) -> None:
        async with self._locks[key]:
            if (kernel_id := self.kernel_of(key)) is not None:
                await self._let_go(kernel_id)

    # --- the pool ---------------------------------------------------------------------------------------------

    def fill_pool(self) -> None:
        """Start kernels in the background until `pool_size` wait, each in an empty folder of its own."""
        if self.pool_size > 0 and (self._filling is None or self._filling.done()):
            self._filling = asyncio.get_running_loop().create_task(self._fill())

    async def _fill(self) -> None:
        while len(self._pool) < self.pool_size and len(self._kernels) < self.per_server:
            folder = self.pool_dir / uuid.uuid4().hex[:12]
            folder.mkdir()
            try:
                kernel_id = await super().start_kernel(cwd=str(folder), kernel_name=KERNEL_NAME)
            except Exception:  # noqa: BLE001  (no sandbox, say: chats start their own kernels and say why)
                log.warning("could not start a kernel for the pool", exc_info=True)
                shutil.rmtree(folder, ignore_errors=True)
                return
            self._pool.append(kernel_id)

    async def _take_pooled(self, folder: Path) -> str | None:
        """A started kernel whose folder is now `folder` (the chat's files moved in); None if none is ready."""
        while self._pool:
            kernel_id = self._pool.pop(0)
            if kernel_id not in self:
                continue
            km: Any = self.get_kernel(kernel_id)
            own = Path(km._launch_args["cwd"])
            try:
                if not await km.is_alive():
                    raise OSError("the pooled kernel died")
                uid = getattr(km.provisioner, "uid", None)
                await asyncio.to_thread(adopt, own, folder, uid)
            except BaseException as exc:  # whatever went wrong (or a cancel): this kernel goes, never leaks uncounted
                log.warning("a pooled kernel could not take %s", folder, exc_info=True)
                await asyncio.shield(self._let_go(kernel_id))
                await asyncio.to_thread(fs.remove_folder, own)
                if not isinstance(exc, Exception):
                    raise
                continue
            km._launch_args["cwd"] = str(folder)  # a restart launches in the chat's folder, not the pool's
            return kernel_id
        return None
