"""How long a chat waits for its first new cell after its kernel is gone: restore from a snapshot versus replay of
every earlier cell, and a new chat's first cell with a pooled kernel versus a kernel started on demand.

    .venv/bin/python -m bench.restore [--runs N]

Each scenario is measured from "a kernel is needed" to the new cell's output, both ways in turn on the same history
(so both meet the same machine load), through a kernel host (`python -m varro.kernels`, sandboxed) whose pool holds
one kernel when the clock starts, as the app's host does; the first cell of a new chat also on a host without a pool.
The table gives medians over the runs. Needs root (the sandbox).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from varro.shell import StoredCell, replay
from varro.shell.host import HostClient
from varro.shell.local_host import LocalHost, start_local_host
from varro.shell.remote import RemoteKernel

NEW_CELL = "print('ready')"


def histories() -> dict[str, list[str]]:
    small = [f"x{i} = {i} * 2\nprint(x{i})" for i in range(200)]
    return {"10 cells": small[:10], "50 cells": small[:50], "200 cells": small,
            "5 x sleep(3)": [f"import time\ntime.sleep(3)\ns{i} = {i}" for i in range(5)]}


async def timed(work: Callable[[], Awaitable[None]]) -> float:
    started = time.perf_counter()
    await work()
    return time.perf_counter() - started


def pool_full(host_folder: Path) -> Callable[[], bool]:
    return lambda: any(d.is_dir() for d in (host_folder / "kernels" / "pool").glob("*/*"))


async def until(ready: Callable[[], bool]) -> None:
    """Wait (before the clock starts) for the host's pool to hold a kernel."""
    deadline = time.monotonic() + 120
    while not ready():
        assert time.monotonic() < deadline, "the host's pool stayed empty"
        await asyncio.sleep(0.1)


async def restore_runs(client: HostClient, pooled: Callable[[], bool], chat_id: int, cells: list[str],
                       runs: int) -> tuple[list[float], list[float]]:
    """Build the history once (with its snapshot), then time a snapshot restore and a full replay, alternately:
    taking the pooled kernel for the chat, restoring, and the new cell."""
    builder = RemoteKernel(client, 1, chat_id, timeout=60)
    for code in cells:
        await builder.execute(code)
    await builder.save_snapshot(len(cells) - 1, 256 * 2**20)
    await builder.shutdown()
    stored = [StoredCell(turn=i, code=code, expected=None) for i, code in enumerate(cells)]
    snapshot, replayed = [], []

    async def restore(by_snapshot: bool) -> float:
        await until(pooled)
        started = time.perf_counter()
        kernel = RemoteKernel(client, 1, chat_id, timeout=60)
        await kernel.start()
        if by_snapshot:
            assert await kernel.load_snapshot(len(cells) - 1) == []
        else:
            await replay(kernel, stored)
        assert "ready" in (await kernel.execute(NEW_CELL)).stdout
        took = time.perf_counter() - started
        await kernel.shutdown()
        return took

    for _ in range(runs):
        snapshot.append(await restore(True))
        replayed.append(await restore(False))
    return snapshot, replayed


async def first_cell_runs(client: HostClient, pooled: Callable[[], bool], bare: HostClient,
                          runs: int) -> tuple[list[float], list[float]]:
    with_pool, on_demand = [], []
    for i in range(runs):
        await until(pooled)
        for host, figures in ((client, with_pool), (bare, on_demand)):
            kernel = RemoteKernel(host, 2, 1000 + i, timeout=60)

            async def first(kernel: RemoteKernel = kernel) -> None:
                assert "ready" in (await kernel.execute(NEW_CELL)).stdout  # starts (or takes) the kernel first

            figures.append(await timed(first))
            await kernel.shutdown()
    return with_pool, on_demand


async def main(runs: int) -> None:
    print(f"time to a new cell's output after the kernel is gone, medians of {runs} runs (min in brackets), seconds")
    print(f"{'history':14} {'snapshot':>16} {'replay':>16}")
    with tempfile.TemporaryDirectory() as tmp:
        hosts: dict[str, LocalHost] = {
            name: start_local_host(Path(tmp) / name / "kernels", env={"VARRO_KERNEL_POOL": pool})
            for name, pool in (("pooled", "1"), ("bare", "0"))}
        client, bare = (HostClient(hosts[n].url, hosts[n].token, "bench") for n in ("pooled", "bare"))
        pooled = pool_full(Path(tmp) / "pooled")
        try:
            for chat_id, (name, cells) in enumerate(histories().items(), start=1):
                snap, rep = await restore_runs(client, pooled, chat_id, cells, runs)
                print(f"{name:14} {statistics.median(snap):>9.2f} [{min(snap):.2f}] {statistics.median(rep):>9.2f}"
                      f" [{min(rep):.2f}]")
            with_pool, demand = await first_cell_runs(client, pooled, bare, runs)
        finally:
            for c in (client, bare):
                await c.close()
            for host in hosts.values():
                host.stop()
    print(f"first cell of a new chat: pool {statistics.median(with_pool) * 1000:.0f} ms [{min(with_pool) * 1000:.0f}],"
          f" no pool {statistics.median(demand) * 1000:.0f} ms [{min(demand) * 1000:.0f}] (medians [min])")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    asyncio.run(main(parser.parse_args().runs))
