"""The size of a chat's working directory, held to a quota while a cell runs.

The directory is an ordinary folder on the server's disk (it must outlive the kernel), so no tmpfs `size=` bounds
it. Two things do: RLIMIT_FSIZE caps any one file the kernel writes (set by the launcher), and this watcher
measures the directory while a cell runs; past the quota the kernel is stopped and the files the cell created or
grew are removed, so the disk fill ends with a clear message and what was there before the cell stays.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

Listing = dict[str, int]  # relative path -> apparent size in bytes (a sparse file counts at its full size)


@dataclass
class WorkdirQuota:
    workdir: Path
    limit: int  # bytes

    def listing(self) -> Listing:
        """Every regular file under the directory, without following links (a link out must not count, or leak)."""
        found: Listing = {}
        stack = [str(self.workdir)]
        while stack:
            try:
                entries = list(os.scandir(stack.pop()))
            except OSError:
                continue
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif entry.is_file(follow_symlinks=False):
                        found[os.path.relpath(entry.path, self.workdir)] = entry.stat(follow_symlinks=False).st_size
                except OSError:
                    continue
        return found

    def used(self) -> int:
        return sum(self.listing().values())

    def over(self) -> bool:
        return self.used() > self.limit

    def undo_growth(self, before: Listing) -> list[str]:
        """Remove the files that are new or larger than in `before`; their names, for the message."""
        removed = []
        for name, size in self.listing().items():
            if size > before.get(name, -1):
                try:
                    (self.workdir / name).unlink()
                    removed.append(name)
                except OSError:
                    continue
        return sorted(removed)
