"""A cell's quota watch (varro/kernels/watch) when the cell ends while the watch is stopping it: the kernel's death
ends the cell, so the end comes while the watch still removes the cell's files, and the verdict must survive."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

from varro.kernels.quota import Listing, WorkdirQuota
from varro.kernels.watch import CellWatch


class SlowToReport(WorkdirQuota):
    """Removes the cell's files at once, then is slow to say which (as a walk of 60,000 folders is)."""

    def __init__(self, workdir: Path, limit: int) -> None:
        super().__init__(workdir, limit)
        self.removing = threading.Event()
        self.release = threading.Event()

    def undo_growth(self, before: Listing) -> list[str]:
        removed = super().undo_growth(before)
        self.removing.set()
        self.release.wait(10)
        return removed


async def test_the_quota_verdict_survives_a_cell_that_ends_while_its_files_are_removed(tmp_path: Path) -> None:
    (tmp_path / "kept.txt").write_text("there before the cell")
    quota = SlowToReport(tmp_path, 64 * 1024)
    stops: list[int] = []

    async def stop_kernel() -> None:
        stops.append(1)

    watch = CellWatch(quota, stop_kernel)
    await watch.begin()
    (tmp_path / "big.bin").write_bytes(b"x" * 128 * 1024)
    assert await asyncio.to_thread(quota.removing.wait, 30), "the watch never tripped"
    # The kernel's death ends the cell now; the watch is still in its removal.
    ending = asyncio.create_task(watch.end())
    await asyncio.sleep(0.1)
    quota.release.set()
    result = await ending

    assert result["quota"] is not None, "the cell was over its quota, and the verdict was lost"
    assert result["quota"]["removed"] == ["big.bin"]
    assert stops == [1]
    assert sorted(os.listdir(tmp_path)) == ["kept.txt"]
