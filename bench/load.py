"""How busy the machine was with work that is not ours while a run went on (Linux /proc).

The bench machine is shared: other sessions' tests, browsers and servers take CPU from the same
cores, and that shows in frame times and p99s. Ours are this harness and its descendants (servers,
the Playwright driver, Chromium); the machine's busy time less theirs is everyone else's.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path


def _machine_busy_ticks() -> int:
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle


def _our_ticks() -> int:
    """CPU ticks of this process and its descendants, with the children they have reaped (cutime, cstime)."""
    stats: dict[int, list[str]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stats[int(entry.name)] = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
    children: dict[int, list[int]] = {}
    for pid, stat in stats.items():
        children.setdefault(int(stat[1]), []).append(pid)
    total, todo = 0, [os.getpid()]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += sum(int(x) for x in stats[pid][11:15])
        todo += children.get(pid, [])
    return total


@dataclass
class Load:
    started: float
    busy: int
    ours: int

    @classmethod
    def now(cls) -> Load:
        return cls(time.monotonic(), _machine_busy_ticks(), _our_ticks())

    def others_percent(self) -> float:
        """CPU the rest of the machine used since `self`, as a percentage of all its cores."""
        end = Load.now()
        wall_ticks = (end.started - self.started) * os.sysconf("SC_CLK_TCK") * (os.cpu_count() or 1)
        others = (end.busy - self.busy) - (end.ours - self.ours)
        return max(0.0, 100 * others / wall_ticks) if wall_ticks else float("nan")
