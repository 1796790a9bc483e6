"""What the kernel sandbox costs: start to first output, and memory per kernel, sandboxed and not, side by side.

    .venv/bin/python -m bench.sandbox [--runs N]

Both kinds run the same kernel environment (.venv-kernel) through the same KernelShell; only the isolation
differs. Runs alternate (sandboxed, unsandboxed, sandboxed, ...) so both meet the same machine load; the table
gives medians. Memory is the proportional set size (PSS, shared pages split between the processes that map
them) of every process of one kernel: for a sandboxed kernel that is bwrap, its init in the pid namespace and the
kernel; for an unsandboxed one the kernel alone. Needs root (the sandbox drops to a uid of its own).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from varro.config import Settings
from varro.shell import KernelShell
from varro.shell.isolation import kernel_python, limits
from varro.shell.sandbox import Isolation, NoSandbox, Sandbox

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


async def one_run(isolation: Isolation, workdir: Path) -> tuple[float, float, float]:
    """Seconds from start to ready, from start to the first cell's output, and the kernel's PSS in MiB."""
    shell = KernelShell(workdir, isolation=isolation, timeout=60)
    started = time.perf_counter()
    await shell.start()
    ready = time.perf_counter() - started
    result = await shell.execute(FIRST_CELL)
    first = time.perf_counter() - started
    assert result.stdout.strip() == "42", result.to_text()
    await asyncio.sleep(0.5)  # let the kernel settle after its first reply
    assert shell.pid is not None
    memory = pss_kib(descendants(shell.pid)) / 1024
    await shell.shutdown()
    return ready, first, memory


async def main(runs: int) -> None:
    settings = Settings()
    python = kernel_python(settings)
    kinds: dict[str, Isolation] = {
        "sandboxed": Sandbox.probe(python, limits(settings)),
        "unsandboxed": NoSandbox(python),
    }
    figures: dict[str, list[tuple[float, float, float]]] = {name: [] for name in kinds}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(runs):
            for name, isolation in kinds.items():
                figures[name].append(await one_run(isolation, Path(tmp) / name))
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
