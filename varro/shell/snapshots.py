"""Which snapshot a restore may use, and which cells it must still replay (the web tier's side; the kernel host keeps
the snapshots themselves, named by turn id: varro/kernels/snapshots.py)."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import TYPE_CHECKING

from varro.files import SNAPSHOT_FOLDER, SNAPSHOT_ROOT

if TYPE_CHECKING:
    from varro.shell.replay import StoredCell

ROOT, FOLDER = SNAPSHOT_ROOT, SNAPSHOT_FOLDER


def best_turn(turn_ids: list[int], valid: Mapping[int, int]) -> int | None:
    """The snapshot to restore from: of the turns in `valid` (the shown branch's turns after the last shell reset,
    id -> position), the latest one that has a snapshot; its turn id."""
    usable = [tid for tid in turn_ids if tid in valid]
    return max(usable, key=lambda tid: valid[tid]) if usable else None


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
            for child in _walk_scope(node):
                if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                    names.add(child.id)
            for field in ("body", "orelse", "finalbody", "handlers"):
                inner = getattr(node, field, None)
                if isinstance(inner, list) and inner and isinstance(inner[0], ast.stmt):
                    visit(inner)

    visit(tree.body)
    return names


_INNER_SCOPES = (ast.GeneratorExp, ast.ListComp, ast.SetComp, ast.DictComp, ast.Lambda)


def _walk_scope(node: ast.AST) -> list[ast.AST]:
    """`node` and what it holds, but not the inside of a comprehension or lambda: `i` in `(i for i in x)` is not a
    name of the cell's (a `:=` in one is, and is kept)."""
    found, todo = [], [node]
    while todo:
        current = todo.pop()
        found.append(current)
        if isinstance(current, _INNER_SCOPES):
            found += [n.target for n in ast.walk(current) if isinstance(n, ast.NamedExpr)]
            continue
        todo.extend(ast.iter_child_nodes(current))
    return found


def cells_to_replay(cells: list[StoredCell], snapshot_turn: int, failed: list[str]) -> list[StoredCell]:
    """After loading the snapshot of `snapshot_turn`: the later turns' cells, and before them the earlier cells that
    bind a name the snapshot could not bring back (in their order, so later definitions win as they did)."""
    missing = set(failed)
    redo = [c for c in cells if c.turn <= snapshot_turn and defined_names(c.code) & missing]
    return redo + [c for c in cells if c.turn > snapshot_turn]
