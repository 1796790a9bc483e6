"""A session's shell: the chat's kernel on its kernel host. It starts on first use and first restores the chat's state:
from the latest valid snapshot, replaying only what it could not bring back and the cells after it; by replaying every
cell when there is no snapshot. A kernel the host kept since the chat's last session needs neither."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Literal

from varro.shell.host import HostLost, Unavailable
from varro.shell.remote import OnOutput, RemoteKernel, SnapshotError
from varro.shell.replay import StoredCell, replay
from varro.shell.result import CellResult
from varro.shell.snapshots import best_turn, cells_to_replay, defined_names

log = logging.getLogger(__name__)
OnDiverged = Callable[[list[int]], Awaitable[None]]
OnNotice = Callable[[str], Awaitable[None]]
# A restore's offer to run cells again: the sentence for the page, and the turns whose cells those are.
OnOffer = Callable[[str, tuple[int, ...]], Awaitable[None]]
# What a restore is doing now ("re-running cell 3 of 12"), for the status line; None once it is over.
OnProgress = Callable[[str | None], Awaitable[None]]


async def _quiet(detail: str | None) -> None:
    return None


async def _no_offer(text: str, turns: tuple[int, ...]) -> None:
    return None


def offer_text(snapshot: Literal["loaded", "none", "unreadable"], failed: list[str], cells: list[StoredCell]) -> str:
    """Why cells are offered rather than run, for the page (the button says what accepting does)."""
    n = f"{len(cells)} cell{'s' if len(cells) != 1 else ''}"
    if snapshot != "loaded":
        why = "could not be read" if snapshot == "unreadable" else "had no snapshot to come back from"
        return (f"This chat's saved Python state {why}, so the shell started empty. Nothing ran again on its own: "
                f"“Run these again” re-runs its {n} from these turns:")
    if failed:
        names = ", ".join(failed[:12]) + (f" and {len(failed) - 12} more" if len(failed) > 12 else "")
        return (f"The snapshot could not keep {names}, so the shell came back without "
                f"{'them' if len(failed) > 1 else 'it'}. Nothing ran again on its own: “Run these again” re-runs the "
                f"{n} that define{'s' if len(cells) == 1 else ''} {'them' if len(failed) > 1 else 'it'}, from these turns:")
    return (f"The shell came back from the snapshot of an earlier turn. Nothing ran again on its own: “Run these again” "
            f"re-runs the {n} after it, from these turns:")
SNAPSHOT_BYTES = 256 * 2**20


class SessionShell:
    """The chat's kernel plus the cells that rebuild its namespace; the host keeps it warm between sessions."""

    def __init__(self, kernel: RemoteKernel, cells: list[StoredCell]) -> None:
        self.kernel = kernel
        self.host = kernel.host
        self._cells = list(cells)
        # The turns whose snapshots a restore may use (id -> position): the shown branch's, after the last reset.
        self._valid: Mapping[int, int] = {}
        self._restored = False  # the kernel holds the chat's state (restored, resumed, or started empty)
        self.snapshot_bytes = SNAPSHOT_BYTES
        self.offered: list[StoredCell] = []  # cells the last restore did not run again, until the user asks
        self._saving: asyncio.Task[None] | None = None

    async def _best_snapshot(self) -> int | None:
        try:
            turns = await self.host.snapshot_turns(self.kernel.user_id, self.kernel.chat_id)
        except HostLost:
            return None
        return best_turn(turns, self._valid)

    async def restore_note(self) -> str | None:
        """What the next run does before it runs, for the page; None when nothing needs restoring."""
        if self._restored or await self._best_snapshot() is None:
            return None  # no snapshot: the shell starts empty, and the earlier cells are offered (`_restore`)
        return "Restoring Python state from its last snapshot…"

    async def resume(self) -> bool:
        """Take back this chat's kernel if its host kept it since the last session: every name as it was, nothing
        re-run. True if there was one."""
        if not self._restored:
            self._restored = await self.kernel.attach()
        return self._restored

    @property
    def status(self) -> str:
        return self.kernel.status if self._restored else "not started"

    @property
    def names(self) -> tuple[str, ...]:
        """The names the chat's cells bound (since its last reset), for the badge: what the shell holds while it runs.
        Read from the stored code, not asked of the kernel: nothing runs in the user's namespace to show them."""
        if not self._restored:
            return ()
        return tuple(sorted({n for c in self._cells for n in defined_names(c.code) if not n.startswith("_")}))

    def record(self, cells: list[StoredCell]) -> None:
        """Cells that ran live in a finished turn: part of what a restart must replay."""
        self._cells.extend(cells)

    async def run(self, code: str, on_notice: OnNotice, on_offer: OnOffer,
                  on_progress: OnProgress = _quiet, on_output: OnOutput | None = None,
                  on_ready: Callable[[], Awaitable[None]] | None = None) -> CellResult:
        """Run `code`, bringing the chat's state back first if the kernel is new (nothing re-run: see `_restore`);
        `on_ready` is awaited just before the cell itself runs."""
        kernel = self.kernel
        if (refused := await self._started()) is not None:
            return refused
        if kernel.state_lost:  # its host went away: the chat goes on in a kernel on another host
            await on_notice("The shell's host stopped answering, so the shell moved to another host: its variables "
                            "came back from the latest snapshot, and its files with them.")
        await self._restore_once(on_offer, on_progress)
        if on_ready is not None:
            await on_ready()
        return await kernel.execute(code, on_output=on_output)

    async def rerun(self, on_diverged: OnDiverged, on_progress: OnProgress = _quiet) -> int | CellResult:
        """Run the cells the last restore offered, because the user asked; how many ran (0: none were waiting), or
        why the shell could not start. A shell not yet restored is restored first (an offer on a page from before a
        server restart)."""
        if (refused := await self._started()) is not None:
            return refused
        await self._restore_once(_no_offer, on_progress)
        cells, self.offered = self.offered, []
        if cells:
            async def on_cell(i: int, n: int) -> None:
                await on_progress(f"re-running cell {i} of {n}")

            diverged = await replay(self.kernel, cells, on_cell)
            await on_progress(None)
            if diverged:
                await on_diverged(diverged)
        return len(cells)

    async def _started(self) -> CellResult | None:
        try:
            await self.kernel.start()  # the host hands over a kernel it started ahead, if it has one
        except Unavailable as exc:  # no sandbox there: the cell is answered with why, and nothing runs
            return CellResult(error=f"SandboxUnavailable: {exc}")
        except (HostLost, OSError) as exc:
            return CellResult(error=f"KernelHostLost: the shell's host could not be reached ({exc})")
        return None

    async def _restore_once(self, on_offer: OnOffer, on_progress: OnProgress) -> None:
        if self.kernel.state_lost:
            self.kernel.state_lost = False
            self._restored = False
        if not self._restored:
            self._restored = True
            await self._restore(self.kernel, on_offer, on_progress)
            await on_progress(None)

    async def _restore(self, kernel: RemoteKernel, on_offer: OnOffer, on_progress: OnProgress) -> None:
        """Bring the chat's state back without running anything: the names of the latest snapshot. What that can't
        bring back (names it could not keep, the cells after it, every cell when there is none) is offered to the
        user, never run: running a cell again repeats what it did (a line appended to a file, a file rewritten)."""
        cells, failed, snapshot = self._cells, [], await self._best_snapshot()
        state: Literal["loaded", "none", "unreadable"] = "none"
        if snapshot is not None:
            await on_progress("loading its snapshot")
            try:
                failed = await kernel.load_snapshot(snapshot)
                cells, state = cells_to_replay(self._cells, self._valid[snapshot], failed), "loaded"
            except SnapshotError:
                log.warning("snapshot of turn %s unreadable; its cells are offered instead", snapshot)
                await kernel.restart()
                state = "unreadable"
        self.offered = list(cells)
        if cells:
            await on_offer(offer_text(state, failed, cells), tuple(sorted({c.turn for c in cells})))

    def snapshot_after(self, turn_id: int, k: int) -> None:
        """Save the namespace as it is at the end of turn `turn_id`, at position `k` (in the background; the kernel's
        lock orders it before the next cell)."""
        if not self._restored or self.kernel.status != "idle":
            return
        self._saving = asyncio.create_task(self._save(self.kernel, turn_id, k))

    async def _save(self, kernel: RemoteKernel, turn_id: int, k: int) -> None:
        said = await kernel.save_snapshot(turn_id, self.snapshot_bytes)
        if said is not None:
            self._valid = {**self._valid, turn_id: k}
            try:
                await self.host.prune_snapshots(kernel.user_id, kernel.chat_id)
            except HostLost:
                pass

    async def settle(self) -> None:
        """Wait for a snapshot being saved, if any."""
        if self._saving is not None:
            await asyncio.gather(self._saving, return_exceptions=True)
            self._saving = None

    async def interrupt(self) -> None:
        if self._saving is not None and not self._saving.done():
            return  # the turn is over and its snapshot is being saved: nothing of the user's to stop
        if self._restored:
            await self.kernel.interrupt()

    async def reset(self, cells: list[StoredCell], valid: Mapping[int, int] | None = None,
                    fresh: bool = False) -> None:
        """Forget the namespace; the next run starts a fresh kernel that restores from a snapshot of a turn in
        `valid` (id -> position) and replays what it lacks of `cells`, or replays all of `cells`. After a switch of
        versions, `cells` and `valid` are the shown branch's: the kernel follows it. `fresh`: a kernel the host kept
        for the chat goes too (it holds another branch's names, or names the user reset)."""
        await self.close(keep=False)
        if fresh and await self.kernel.attach():
            await self.kernel.shutdown()
        self._cells = list(cells)
        self._valid = dict(valid or {})

    async def close(self, keep: bool = True) -> None:
        """The session ends: the host keeps the kernel for a while (if `keep`), else it stops."""
        await self.settle()
        restored, self._restored = self._restored, False
        if keep:
            await self.kernel.detach()
        elif restored or self.kernel.kernel_id is not None:
            await self.kernel.shutdown()
