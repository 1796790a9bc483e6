"""The size of a chat's working directory, held to a quota while a cell runs.

The directory is an ordinary folder on the server's disk (it must outlive the kernel), so no tmpfs `size=` bounds
it. Two things do: RLIMIT_FSIZE caps any one file the kernel writes (set by the launcher), and this watcher
measures the directory while a cell runs; past the quota the kernel is stopped and the files the cell created or
grew are removed, so the disk fill ends with a clear message and what was there before the cell stays.

Every entry counts, not only files: a folder, a link, a FIFO costs at least a block (`ENTRY_BYTES`) on the disk
and an inode, so 60,000 empty folders are over a 40 MB quota like 60 MB of data would be. The walk is the kernel
tier's (varro/kernels/fs): from descriptors, iterative, so a chain of folders deeper or longer than any path still
counts in full.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from varro.kernels import fs

NAMED = 20  # removed entries named in the message, at most
ENTRY_BYTES = 4096  # what any entry costs at least: one block of the disk
Listing = dict[bytes, int]  # path from the folder (any length) -> apparent size (a sparse file at its full size)


@dataclass
class WorkdirQuota:
    workdir: Path
    limit: int  # bytes

    def listing(self) -> Listing:
        """Every entry under the directory with its apparent size (0 for all but files), without following links (a
        link out must not count, or leak): what a cell's growth is told by."""
        return {entry.rel: _grown_by(entry) for entry in self._walk()}

    def _walk(self) -> Iterator[fs.Entry]:
        try:
            folder = fs.Folder(self.workdir)
        except OSError:
            return
        with folder:
            yield from fs.walk(folder.fd)

    def used(self, stop_above: int | None = None) -> int:
        """What the entries cost: a file its size, any entry at least a block. With `stop_above`, the walk ends as
        soon as the total passes it (a tree of millions of entries is over long before it is all counted)."""
        total = 0
        for entry in self._walk():
            total += max(entry.size, ENTRY_BYTES) if entry.kind == "file" else ENTRY_BYTES
            if stop_above is not None and total > stop_above:
                break
        return total

    def over(self) -> bool:
        return self.used(stop_above=self.limit) > self.limit

    def undo_growth(self, before: Listing) -> list[str]:
        """Remove what is new or larger than in `before` (a new folder with all it holds); the names, for the message."""
        removed: list[str] = []
        for entry in self._walk():
            old = before.get(entry.rel)
            if old is not None and (entry.kind == "dir" or _grown_by(entry) <= old):
                continue
            try:
                if entry.kind == "dir":
                    fs.remove_tree(entry.dir_fd, entry.name)
                else:
                    os.unlink(entry.name, dir_fd=entry.dir_fd)
                removed.append(fs.shown(entry.rel))
            except OSError:
                continue
        removed.sort()
        return removed if len(removed) <= NAMED else [*removed[:NAMED], f"and {len(removed) - NAMED} more"]



def _grown_by(entry: fs.Entry) -> int:
    return entry.size if entry.kind == "file" else 0
