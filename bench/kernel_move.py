"""A chat whose kernel host dies goes on on another host: how long its next cell waits, against replaying its cells.

    .venv/bin/python -m bench.kernel_move [--runs N] [--cells 50]

Two kernel hosts share a store in PostgreSQL (a database of this run's own, dropped at the end). A chat runs
`--cells` cells on the first host and saves its snapshot; the first host is then killed (SIGKILL), and the chat's
next cell is timed from "a kernel is needed" to its output: on the second host, the folder brought back from the
store and the namespace from the snapshot. The baseline, in the same run: the same cells replayed into a fresh
kernel on the second host. Medians over the runs. Needs root (the sandbox) and PostgreSQL at 127.0.0.1:5432.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import signal
import statistics
import tempfile
import time
from pathlib import Path

import asyncpg

from varro.shell.host import HostClient
from varro.shell.hosts import KernelHosts
from varro.shell.local_host import LocalHost, start_local_host
from varro.shell.remote import RemoteKernel
from varro.shell.replay import StoredCell, replay

ADMIN = os.environ.get("VARRO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
NEW_CELL = "print(x0 + 1)"


class Placements:
    """Where each chat lives, in memory (the app keeps it in the database)."""

    def __init__(self) -> None:
        self.of: dict[int, str] = {}

    async def get(self, chat_id: int) -> str:
        return self.of.get(chat_id, "")

    async def move(self, chat_id: int, was: str, to: str) -> str:
        if self.of.get(chat_id, "") == was:
            self.of[chat_id] = to
        return self.of[chat_id]


async def one_run(store_url: str, cells: list[str], run: int) -> tuple[float, float]:
    folder = Path(tempfile.mkdtemp(prefix="varro-bench-move-"))
    token = secrets.token_urlsafe(16)
    # Each host keeps a kernel started ahead (the default), as a host of the pool would when a chat lands on it.
    env = {"VARRO_KERNEL_STORE": store_url, "VARRO_KERNEL_POOL": "1"}
    hosts: list[LocalHost] = [start_local_host(folder / name, env=env, token=token, log_path=folder / f"{name}.log")
                              for name in ("a", "b")]
    pool = KernelHosts([HostClient(h.url, token, "bench") for h in hosts], Placements())
    try:
        # Hosts of a pool have served chats before: a host's first websocket costs it ~3 s once (jupyter_server's
        # first connection), which is not what a move costs.
        for i, h in enumerate(hosts):
            warm = RemoteKernel(HostClient(h.url, token, "warm"), 9, i, timeout=60)
            await warm.execute("1")
            await warm.shutdown()
            await warm.host.close()  # type: ignore[union-attr]
        chat = 1000 + run
        kernel = RemoteKernel(pool, 1, chat, timeout=60)
        for code in cells:
            await kernel.execute(code)
        await kernel.save_snapshot(0, 2**28)
        first = await pool.of(1, chat)
        dead = next(h for h in hosts if h.url == first.url)
        os.kill(dead.process.pid, signal.SIGKILL)
        dead.process.wait()
        await asyncio.sleep(3)  # the other host's pool has its kernel ready, as it would long before a failure

        started = time.perf_counter()
        moved = RemoteKernel(pool, 1, chat, timeout=60)
        await moved.start()
        up = time.perf_counter()
        failed = await moved.load_snapshot(0)
        out = await moved.execute(NEW_CELL)
        restore = time.perf_counter() - started
        print(f"  run {run}: kernel on the other host (folder from the store) {up - started:.2f} s, "
              f"snapshot and next cell {restore - (up - started):.2f} s", flush=True)
        assert not failed and out.stdout.strip() == "1", out.to_text()

        started = time.perf_counter()
        fresh = RemoteKernel(pool, 1, chat + 500, timeout=60)
        await replay(fresh, [StoredCell(0, code, None) for code in cells])
        await fresh.execute(NEW_CELL)
        baseline = time.perf_counter() - started
        await moved.shutdown()
        await fresh.shutdown()
        return restore, baseline
    finally:
        await pool.close()
        for h in hosts:
            h.stop()
        shutil.rmtree(folder, ignore_errors=True)


async def main(runs: int, n: int) -> None:
    name = f"varro_bench_move_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    store_url = ADMIN.rsplit("/", 1)[0] + f"/{name}"
    cells = [f"x{i} = {i} * 2\nprint(x{i})" for i in range(n)]
    try:
        figures = [await one_run(store_url, cells, run) for run in range(runs)]
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
    restore = statistics.median(f[0] for f in figures)
    baseline = statistics.median(f[1] for f in figures)
    print(f"chat of {n} cells, its host killed; median over {runs} runs")
    print(f"  moved: folder from the store + snapshot, then the next cell  {restore:6.2f} s")
    print(f"  baseline: the {n} cells replayed, then the next cell          {baseline:6.2f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cells", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.cells))
