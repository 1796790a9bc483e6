"""A session's shell: the kernel starts on first use and first replays the chat's earlier cells."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from varro.shell import CellResult, KernelShell, StoredCell, replay
from varro.shell.keeper import KernelKeeper, Key
from varro.shell.sandbox import Unavailable

KernelFactory = Callable[[], KernelShell]
OnDiverged = Callable[[list[int]], Awaitable[None]]


class SessionShell:
    """Lazily started kernel plus the cells that rebuild its namespace; kept warm by `keeper` between sessions."""

    def __init__(self, make_kernel: KernelFactory, cells: list[StoredCell], keeper: KernelKeeper | None = None,
                 key: Key | None = None) -> None:
        self._make_kernel = make_kernel
        self._cells = list(cells)
        self._kernel: KernelShell | None = None
        self._keeper = keeper
        self._key = key

    @property
    def will_replay(self) -> int:
        """How many earlier cells the next run re-runs first (0 when a kernel is running or kept)."""
        return len(self._cells) if self._kernel is None else 0

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

    async def run(self, code: str, on_diverged: OnDiverged) -> CellResult:
        if self._kernel is None:
            self._kernel = self._make_kernel()
            try:
                await self._kernel.start()
            except Unavailable as exc:  # no sandbox here: the cell is answered with why, and nothing runs
                self._kernel = None
                return CellResult(error=f"SandboxUnavailable: {exc}")
            if self._cells:
                diverged = await replay(self._kernel, self._cells)
                if diverged:
                    await on_diverged(diverged)
        return await self._kernel.execute(code)

    async def interrupt(self) -> None:
        if self._kernel is not None:
            await self._kernel.interrupt()

    async def reset(self, cells: list[StoredCell]) -> None:
        """Forget the namespace; the next run starts a fresh kernel that replays only `cells`."""
        await self.close(keep=False)
        self._cells = list(cells)

    async def close(self, keep: bool = True) -> None:
        """The session ends: hand the kernel to the keeper (if `keep` and there is one), else shut it down."""
        kernel, self._kernel = self._kernel, None
        if kernel is None:
            return
        if keep and self._keeper is not None and self._key is not None:
            await self._keeper.park(self._key, kernel)
        else:
            await kernel.shutdown()
