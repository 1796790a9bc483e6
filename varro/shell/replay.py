"""Rebuild a kernel's state from stored cells and report the turns whose output has changed since."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from varro.shell.result import CellResult

# Things that legitimately differ between two runs of the same code.
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{4,}")
_CELL_NUMBER = re.compile(r"\b(In|Out|Cell In)\s*\[\d+\]")
_DURATION = re.compile(r"Execution timed out after [\d.]+ s")
_SPACE = re.compile(r"\s+")


class Runs(Protocol):
    async def execute(self, code: str) -> CellResult: ...


@dataclass
class StoredCell:
    turn: int
    code: str
    expected: str | None


def normalise(text: str) -> str:
    text = _ADDRESS.sub("0x?", text)
    text = _CELL_NUMBER.sub(r"\1[?]", text)
    text = _DURATION.sub("Execution timed out", text)
    return _SPACE.sub(" ", text).strip()


async def replay(shell: Runs, cells: list[StoredCell],
                 on_cell: Callable[[int, int], Awaitable[None]] | None = None) -> list[int]:
    """Run `cells` in order in `shell`; return the sorted turns whose output differs from what was stored.
    `on_cell(i, n)` is awaited before cell i (from 1) of n runs, for the page's progress."""
    changed: set[int] = set()
    for i, cell in enumerate(cells, 1):
        if on_cell is not None:
            await on_cell(i, len(cells))
        result = await shell.execute(cell.code)
        if cell.expected is not None and normalise(result.to_text()) != normalise(cell.expected):
            changed.add(cell.turn)
    return sorted(changed)
