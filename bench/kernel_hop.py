"""What the kernel host's hop costs: a `1+1` cell's round trip straight to a kernel over ZeroMQ, and through a kernel
host (the Jupyter websocket channels, as the web tier runs every cell), side by side; and a kernel's start.

    .venv/bin/python -m bench.kernel_hop [--runs N] [--cells N]

Both kinds run the same unsandboxed ipykernel from .venv-kernel: directly through jupyter_client (the baseline:
what a single-tier server did), and through `python -m varro.kernels` with VARRO_SANDBOX=off and no pool, reached
with `RemoteKernel` (the host's watch on the chat's folder from the cell's begin to its end included, as for every
cell). So the difference is the hop alone, not the sandbox (bench/sandbox.py measures that). Each run starts a
fresh kernel of each kind, times its start, then `--cells` round trips; kinds alternate so both meet the same
machine load; the table gives medians over runs of each run's median round trip.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

from varro.config import Settings
from varro.kernels.sandbox.isolation import kernel_python
from varro.shell.host import HostClient
from varro.shell.local_host import start_local_host
from varro.shell.remote import RemoteKernel

CELL = "1+1"


async def direct(folder: Path, cells: int) -> tuple[float, list[float]]:
    """Start an ipykernel with jupyter_client, run `cells` cells over its ZeroMQ sockets; (start s, round trips s).
    The start is until the kernel answers kernel_info; the host's is until its first cell's result."""
    python = str(kernel_python(Settings()))
    # Unix sockets, as the kernel host's kernels use (its provisioner points them at its run directory).
    km = AsyncKernelManager(kernel_cmd=[python, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                            transport="ipc", ip=str(folder / f"direct-{time.monotonic_ns()}"))
    started = time.perf_counter()
    await km.start_kernel(cwd=str(folder), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = km.client()
    client.start_channels()
    try:
        await client.wait_for_ready(timeout=60)
        start_s = time.perf_counter() - started
        trips = []
        for _ in range(cells):
            t0 = time.perf_counter()
            reply = await client.execute_interactive(CELL, timeout=30, output_hook=lambda msg: None)
            trips.append(time.perf_counter() - t0)
            assert reply["content"]["status"] == "ok", reply
        return start_s, trips
    finally:
        client.stop_channels()
        await km.shutdown_kernel(now=True)


async def hop(client: HostClient, chat_id: int, cells: int) -> tuple[float, list[float]]:
    """The same through the kernel host, as the web tier runs a cell."""
    shell = RemoteKernel(client, 1, chat_id, timeout=30)
    started = time.perf_counter()
    first = await shell.execute(CELL)  # starts the chat's kernel, connects, waits for it to answer
    start_s = time.perf_counter() - started
    assert first.result == "2", first
    try:
        trips = []
        for _ in range(cells):
            t0 = time.perf_counter()
            result = await shell.execute(CELL)
            trips.append(time.perf_counter() - t0)
            assert result.result == "2", result
        return start_s, trips
    finally:
        await shell.shutdown()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


async def main(runs: int, cells: int) -> None:
    with tempfile.TemporaryDirectory(prefix="varro-hop-") as tmp:
        folder = Path(tmp)
        host = start_local_host(folder / "kernels", env={"VARRO_SANDBOX": "off", "VARRO_KERNEL_POOL": "0"},
                                log_path=folder / "host.log")
        client = HostClient(host.url, host.token, "bench")
        starts: dict[str, list[float]] = {"direct": [], "hop": []}
        p50s: dict[str, list[float]] = {"direct": [], "hop": []}
        p95s: dict[str, list[float]] = {"direct": [], "hop": []}
        try:
            for run in range(runs):
                for kind in ("direct", "hop") if run % 2 == 0 else ("hop", "direct"):
                    if kind == "direct":
                        start_s, trips = await direct(folder, cells)
                    else:
                        start_s, trips = await hop(client, run + 1, cells)
                    starts[kind].append(start_s)
                    p50s[kind].append(statistics.median(trips))
                    p95s[kind].append(statistics.quantiles(trips, n=20)[-1] if len(trips) > 1 else trips[0])
        finally:
            await client.close()
            host.stop()
    print(f"`{CELL}` round trip, {runs} runs x {cells} cells, medians over runs (ms)\n")
    print("| kind | round trip p50 | round trip p95 | kernel start |")
    print("|---|---|---|---|")
    for kind, label in (("direct", "direct over ZeroMQ (baseline)"), ("hop", "through the kernel host")):
        print(f"| {label} | {ms(statistics.median(p50s[kind]))} | {ms(statistics.median(p95s[kind]))} "
              f"| {ms(statistics.median(starts[kind]))} |")
    added = statistics.median(p50s["hop"]) - statistics.median(p50s["direct"])
    print(f"\nthe hop adds {ms(added)} ms at p50")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--cells", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.cells))
