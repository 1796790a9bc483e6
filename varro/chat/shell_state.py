"""A session's shell: the kernel starts on first use and first replays the chat's earlier cells."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from varro.shell import CellResult, KernelShell, StoredCell, replay
from varro.shell.sandbox import Unavailable

KernelFactory = Callable[[], KernelShell]
OnDiverged = Callable[[list[int]], Awaitable[None]]


class SessionShell:
    """Lazily started kernel plus the cells that rebuild its namespace."""

    def __init__(self, make_kernel: KernelFactory, cells: list[StoredCell]) -> None:
        self._make_kernel = make_kernel
        self._cells = list(cells)
        self._kernel: KernelShell | None = None

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
        await self.close()
        self._cells = list(cells)

    async def close(self) -> None:
        kernel, self._kernel = self._kernel, None
        if kernel is not None:
            await kernel.shutdown()
