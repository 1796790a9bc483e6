"""What the kernel sandbox costs: start to first output, and memory per kernel, sandboxed and not, side by side.

    .venv/bin/python -m bench.sandbox [--runs N]

Both kinds run the same kernel environment (.venv-kernel), each in a kernel host of its own (`python -m
varro.kernels`, no pool; one with VARRO_SANDBOX=off), reached through the same RemoteKernel; only the isolation
differs. Runs alternate (sandboxed, unsandboxed, sandboxed, ...) so both meet the same machine load; the table
gives medians. Memory is the proportional set size (PSS, shared pages split between the processes that map
them) of every process of one kernel (the host's child processes, one kernel at a time): for a sandboxed kernel that is bwrap, its init in the pid namespace and the
kernel; for an unsandboxed one the kernel alone. Needs root (the sandbox drops to a uid of its own).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from varro.shell.host import HostClient
from varro.shell.local_host import LocalHost, start_local_host
from varro.shell.remote import RemoteKernel

FIRST_CELL = "print(6 * 7)"


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += children.get(current, [])
    return found


def pss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


async def one_run(host: LocalHost, client: HostClient, chat_id: int) -> tuple[float, float, float]:
    """Seconds from start to ready, from start to the first cell's output, and the kernel's PSS in MiB."""
    shell = RemoteKernel(client, 1, chat_id, timeout=60)
    started = time.perf_counter()
    await shell.start()
    ready = time.perf_counter() - started
    result = await shell.execute(FIRST_CELL)
    first = time.perf_counter() - started
    assert result.stdout.strip() == "42", result.to_text()
    await asyncio.sleep(0.5)  # let the kernel settle after its first reply
    memory = pss_kib([p for p in descendants(host.process.pid) if p != host.process.pid]) / 1024
    await shell.shutdown()
    return ready, first, memory


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        hosts = {name: start_local_host(Path(tmp) / name, env={"VARRO_KERNEL_POOL": "0", **env})
                 for name, env in (("sandboxed", {}), ("unsandboxed", {"VARRO_SANDBOX": "off"}))}
        clients = {name: HostClient(host.url, host.token, "bench") for name, host in hosts.items()}
        figures: dict[str, list[tuple[float, float, float]]] = {name: [] for name in hosts}
        try:
            for _ in range(2):  # a host's first websocket costs jupyter_server seconds once: not a kernel's start
                for name in hosts:
                    await one_run(hosts[name], clients[name], 0)
            for run in range(runs):
                for name in hosts:
                    figures[name].append(await one_run(hosts[name], clients[name], run + 1))
        finally:
            for name, host in hosts.items():
                await clients[name].close()
                host.stop()
    print(f"kernel start, {runs} runs each, interleaved (medians; min in brackets)")
    print(f"{'':12} {'ready (ms)':>16} {'first output (ms)':>20} {'PSS (MiB)':>14}")
    for name, rows in figures.items():
        ready, first, memory = zip(*rows, strict=True)
        print(f"{name:12} {statistics.median(ready) * 1000:>9.0f} [{min(ready) * 1000:>4.0f}]"
              f" {statistics.median(first) * 1000:>12.0f} [{min(first) * 1000:>4.0f}]"
              f" {statistics.median(memory):>8.1f} [{min(memory):>4.1f}]")
    sand, bare = figures["sandboxed"], figures["unsandboxed"]
    print(f"sandbox adds: {(statistics.median(r[1] for r in sand) - statistics.median(r[1] for r in bare)) * 1000:.0f} ms"
          f" to the first output, {statistics.median(r[2] for r in sand) - statistics.median(r[2] for r in bare):.1f}"
          " MiB per kernel (medians)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=9)
    asyncio.run(main(parser.parse_args().runs))
