"""How long a chat waits for its first new cell after its kernel is gone: restore from a snapshot versus replay of
every earlier cell, and a new chat's first cell with a pooled kernel versus a kernel started on demand.

    .venv/bin/python -m bench.restore [--runs N]

Each scenario is measured from "a kernel is needed" to the new cell's output, both ways in turn on the same history
(so both meet the same machine load), the kernel taken from a full pool as the app does; the table gives medians
over the runs. Needs root (the sandbox).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from varro.config import Settings
from varro.shell import KernelShell, StoredCell, replay
from varro.shell.isolation import kernel_python, limits
from varro.shell.pool import KernelPool
from varro.shell.sandbox import Sandbox

NEW_CELL = "print('ready')"


def histories() -> dict[str, list[str]]:
    small = [f"x{i} = {i} * 2\nprint(x{i})" for i in range(200)]
    return {"10 cells": small[:10], "50 cells": small[:50], "200 cells": small,
            "5 x sleep(3)": [f"import time\ntime.sleep(3)\ns{i} = {i}" for i in range(5)]}


async def timed(work: Callable[[], Awaitable[None]]) -> float:
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started


async def restore_runs(sandbox: Sandbox, folder: Path, cells: list[str], runs: int) -> tuple[list[float], list[float]]:
    """Build the history once (with its snapshot), then time a snapshot restore and a full replay, alternately.

    As in the app, the new kernel comes from the pool (VARRO_KERNEL_POOL=1), which is full when the clock starts:
    what is timed is taking it, restoring, and the new cell."""
    make = lambda path: KernelShell(path, isolation=sandbox, timeout=60)  # noqa: E731
    builder = make(folder)
    for code in cells:
        await builder.execute(code)
    await builder.save_snapshot(len(cells) - 1, 256 * 2**20)
    await builder.shutdown()
    stored = [StoredCell(turn=i, code=code, expected=None) for i, code in enumerate(cells)]
    pool = KernelPool(1, folder.parent / f"{folder.name}-pool", make)
    snapshot, replayed = [], []

    async def restore(by_snapshot: bool) -> float:
        pool.fill()
        while len(pool) < 1:
            await asyncio.sleep(0.1)
        started = time.perf_counter()
        kernel = await pool.take(folder)
        assert kernel is not None
        if by_snapshot:
            assert await kernel.load_snapshot(len(cells) - 1) == []
        else:
            await replay(kernel, stored)
        assert "ready" in (await kernel.execute(NEW_CELL)).stdout
        took = time.perf_counter() - started
        await kernel.shutdown()
        return took

    try:
        for _ in range(runs):
            snapshot.append(await restore(True))
            replayed.append(await restore(False))
    finally:
        await pool.close()
    return snapshot, replayed


async def first_cell_runs(sandbox: Sandbox, folder: Path, runs: int) -> tuple[list[float], list[float]]:
    make = lambda path: KernelShell(path, isolation=sandbox, timeout=60)  # noqa: E731
    pool = KernelPool(1, folder / "pool", make)
    pooled, on_demand = [], []
    try:
        for i in range(runs):
            pool.fill()
            while len(pool) < 1:
                await asyncio.sleep(0.1)
            kernels: list[KernelShell] = []

            async def with_pool(n: int = i, kernels: list[KernelShell] = kernels) -> None:
                kernel = await pool.take(folder / f"pooled-{n}")
                assert kernel is not None
                kernels.append(kernel)
                assert "ready" in (await kernel.execute(NEW_CELL)).stdout

            async def without(n: int = i, kernels: list[KernelShell] = kernels) -> None:
                kernel = make(folder / f"demand-{n}")
                kernels.append(kernel)
                assert "ready" in (await kernel.execute(NEW_CELL)).stdout  # starts the kernel first

            pooled.append(await timed(with_pool))
            on_demand.append(await timed(without))
            for kernel in kernels:
                await kernel.shutdown()
    finally:
        await pool.close()
    return pooled, on_demand


async def main(runs: int) -> None:
    settings = Settings()
    sandbox = Sandbox.probe(kernel_python(settings), limits(settings))
    print(f"time to a new cell's output after the kernel is gone, medians of {runs} runs (min in brackets), seconds")
    print(f"{'history':14} {'snapshot':>16} {'replay':>16}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, cells in histories().items():
            snap, rep = await restore_runs(sandbox, Path(tmp) / name.replace(" ", "-"), cells, runs)
            print(f"{name:14} {statistics.median(snap):>9.2f} [{min(snap):.2f}] {statistics.median(rep):>9.2f}"
                  f" [{min(rep):.2f}]")
        pooled, demand = await first_cell_runs(sandbox, Path(tmp), runs)
    print(f"first cell of a new chat: pool {statistics.median(pooled) * 1000:.0f} ms [{min(pooled) * 1000:.0f}],"
          f" no pool {statistics.median(demand) * 1000:.0f} ms [{min(demand) * 1000:.0f}] (medians [min])")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))
