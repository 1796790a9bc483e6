"""A session's shell: the kernel starts on first use and first restores the chat's state: from the latest valid
snapshot, replaying only what it could not bring back and the cells after it; by replaying every cell when there
is no snapshot. A kernel kept from the chat's last session needs neither."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from varro.shell import CellResult, KernelShell, StoredCell, replay
from varro.shell.keeper import KernelKeeper, Key
from varro.shell.kernel import OnOutput, SnapshotError
from varro.shell.pool import KernelPool
from varro.shell.sandbox import Unavailable
from varro.shell.snapshots import Snapshots, cells_to_replay

log = logging.getLogger(__name__)

KernelFactory = Callable[[], KernelShell]
OnDiverged = Callable[[list[int]], Awaitable[None]]
OnNotice = Callable[[str], Awaitable[None]]
# What a restore is doing now ("re-running cell 3 of 12"), for the status line; None once it is over.
OnProgress = Callable[[str | None], Awaitable[None]]


async def _quiet(detail: str | None) -> None:
    return None
SNAPSHOT_BYTES = 256 * 2**20


class SessionShell:
    """Lazily started kernel plus the cells that rebuild its namespace; kept warm by `keeper` between sessions."""

    def __init__(self, make_kernel: KernelFactory, cells: list[StoredCell], keeper: KernelKeeper | None = None,
                 key: Key | None = None, pool: KernelPool | None = None) -> None:
        self._make_kernel = make_kernel
        self._cells = list(cells)
        self._valid = range(0)  # the turns whose snapshots a restore may use
        self._kernel: KernelShell | None = None
        self._keeper = keeper
        self._key = key
        self._pool = pool
        self._snapshots: Snapshots | None = None
        self.snapshot_bytes = SNAPSHOT_BYTES
        self._saving: asyncio.Task[None] | None = None

    @property
    def snapshots(self) -> Snapshots:
        """The chat's snapshots, in its kernel's working directory (known once a kernel object exists)."""
        if self._snapshots is None:
            self._snapshots = Snapshots(self._make_kernel().workdir)
        return self._snapshots

    def restore_note(self) -> str | None:
        """What the next run does before it runs, for the page; None when nothing needs restoring."""
        if self._kernel is not None:
            return None
        if self.snapshots.best(self._valid) is not None:
            return "Restoring Python state from its last snapshot…"
        n = len(self._cells)
        return f"Restoring Python state: re-running {n} earlier cell{'s' if n > 1 else ''} first." if n else None

    def resume(self) -> bool:
        """Take back this chat's kernel if it was kept since its last session: every name as it was, nothing
        re-run. True if there was one."""
        if self._kernel is None and self._keeper is not None and self._key is not None:
            self._kernel = self._keeper.claim(self._key)
        return self._kernel is not None

    @property
    def status(self) -> str:
        return "not started" if self._kernel is None else self._kernel.status

    def record(self, cells: list[StoredCell]) -> None:
        """Cells that ran live in a finished turn: part of what a restart must replay."""
        self._cells.extend(cells)

    async def run(self, code: str, on_diverged: OnDiverged, on_notice: OnNotice,
                  on_progress: OnProgress = _quiet, on_output: OnOutput | None = None,
                  on_ready: Callable[[], Awaitable[None]] | None = None) -> CellResult:
        """Run `code`, restoring the chat's state first if the kernel is new; `on_ready` is awaited just before the
        cell itself runs (after any restore, whose replayed cells are not this cell's doing)."""
        if self._kernel is None:
            # A kernel started ahead of time, if the pool has one: no process start before the first cell.
            kernel = await self._pool.take(self.snapshots.workdir) if self._pool is not None else None
            kernel = kernel or self._make_kernel()
            try:
                await kernel.start()
            except Unavailable as exc:  # no sandbox here: the cell is answered with why, and nothing runs
                return CellResult(error=f"SandboxUnavailable: {exc}")
            self._kernel = kernel
            await self._restore(kernel, on_diverged, on_notice, on_progress)
            await on_progress(None)
        if on_ready is not None:
            await on_ready()
        return await self._kernel.execute(code, on_output=on_output)

    async def _restore(self, kernel: KernelShell, on_diverged: OnDiverged, on_notice: OnNotice,
                       on_progress: OnProgress) -> None:
        cells = self._cells
        turn = self.snapshots.best(self._valid)
        if turn is not None:
            await on_progress("loading its snapshot")
            try:
                failed = await kernel.load_snapshot(turn)
                cells = cells_to_replay(self._cells, turn, failed)
                if failed:
                    await on_notice(f"Could not restore {', '.join(failed)} from the snapshot; the cells that define "
                                    "them ran again.")
            except SnapshotError:
                log.warning("snapshot of turn %s unreadable, replaying instead", turn)
                await kernel.restart()
                await on_notice("The saved Python state could not be read; the earlier cells ran again instead.")
        if cells:
            async def on_cell(i: int, n: int) -> None:
                await on_progress(f"re-running cell {i} of {n}")

            diverged = await replay(kernel, cells, on_cell)
            if diverged:
                await on_diverged(diverged)

    def snapshot_after(self, turn: int) -> None:
        """Save the namespace as it is at the end of `turn` (in the background; the kernel's lock orders it before
        the next cell)."""
        if self._kernel is None or self._kernel.status != "idle":
            return
        self._saving = asyncio.create_task(self._save(self._kernel, turn))

    async def _save(self, kernel: KernelShell, turn: int) -> None:
        said = await kernel.save_snapshot(turn, self.snapshot_bytes)
        if said is not None:
            self._valid = range(self._valid.start, turn + 1)
            await asyncio.to_thread(self.snapshots.prune)

    def forget_snapshots_from(self, turn: int) -> None:
        self.snapshots.forget_from(turn)

    async def settle(self) -> None:
        """Wait for a snapshot being saved, if any."""
        if self._saving is not None:
            await asyncio.gather(self._saving, return_exceptions=True)
            self._saving = None

    async def interrupt(self) -> None:
        if self._saving is not None and not self._saving.done():
            return  # the turn is over and its snapshot is being saved: nothing of the user's to stop
        if self._kernel is not None:
            await self._kernel.interrupt()

    async def reset(self, cells: list[StoredCell], valid: range = range(0)) -> None:
        """Forget the namespace; the next run starts a fresh kernel that restores from a snapshot of a turn in
        `valid` and replays what it lacks of `cells`, or replays all of `cells`."""
        await self.close(keep=False)
        self._cells = list(cells)
        self._valid = valid

    async def close(self, keep: bool = True) -> None:
        """The session ends: hand the kernel to the keeper (if `keep` and there is one), else shut it down."""
        await self.settle()
        kernel, self._kernel = self._kernel, None
        if kernel is None:
            return
        if keep and self._keeper is not None and self._key is not None:
            await self._keeper.park(self._key, kernel)
        else:
            await kernel.shutdown()
