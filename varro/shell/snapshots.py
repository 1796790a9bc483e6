"""Where a chat's namespace snapshots live, which one a restore may use, and which cells it must still replay.

A snapshot `turn-K.pkl` holds the kernel's names as they were at the end of turn K (varro/shell/inside/snapshot.py
writes and reads it, inside the kernel). They sit in the chat's working directory under `.snapshots/`, so they
belong to the chat's owner, count against its quota, and go with the chat. The server only lists and deletes them.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # replay imports the kernel, which imports this module
    from varro.shell.replay import StoredCell

FOLDER = ".snapshots"
KEEP = 3  # the latest few: an edit a few turns back still finds one
_NAME = re.compile(r"^turn-(\d+)\.pkl$")


@dataclass(frozen=True)
class Snapshots:
    workdir: Path

    def path(self, turn: int) -> Path:
        return self.workdir / FOLDER / f"turn-{turn}.pkl"

    def turns(self) -> list[int]:
        folder = self.workdir / FOLDER
        if not folder.is_dir():
            return []
        return sorted(int(m[1]) for p in folder.iterdir() if (m := _NAME.match(p.name)))

    def best(self, valid: range) -> int | None:
        """The latest snapshot whose turn is still there and after the last shell reset."""
        usable = [k for k in self.turns() if k in valid]
        return usable[-1] if usable else None

    def forget_from(self, turn: int) -> None:
        """Turns from `turn` on are gone (an edit): their snapshots describe a namespace that no longer was."""
        for k in self.turns():
            if k >= turn:
                self.path(k).unlink(missing_ok=True)

    def prune(self, keep: int = KEEP) -> None:
        for k in self.turns()[:-keep]:
            self.path(k).unlink(missing_ok=True)


def defined_names(code: str) -> set[str]:
    """Names a cell binds at its top level (assignments, defs, classes, imports, loop and with targets)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    names: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(node.name)
                continue
            if isinstance(node, ast.Import | ast.ImportFrom):
                names.update((a.asname or a.name).split(".")[0] for a in node.names)
                continue
            for child in ast.walk(node):
                if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                    names.add(child.id)
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(node, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    visit(inner)

    visit(tree.body)
    return names


def cells_to_replay(cells: list[StoredCell], snapshot_turn: int, failed: list[str]) -> list[StoredCell]:
    """After loading the snapshot of `snapshot_turn`: the later turns' cells, and before them the earlier cells that
    bind a name the snapshot could not bring back (in their order, so later definitions win as they did)."""
    missing = set(failed)
    redo = [c for c in cells if c.turn <= snapshot_turn and defined_names(c.code) & missing]
    return redo + [c for c in cells if c.turn > snapshot_turn]
