"""A chat's turns as a tree, in memory: which path is shown when a turn is chosen, and each turn's versions.

Pure functions over `Node`s (a turn's id, parent, position and remembered child), so the rules are tested without
a database and the CRUD layer (varro/db/crud/turn.py) only reads the nodes and writes the outcome.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Node:
    id: int
    parent_id: int | None
    idx: int
    active_child_id: int | None = None


def children_of(nodes: Iterable[Node]) -> dict[int | None, list[Node]]:
    """Each parent's children (None: the first turns), oldest first."""
    out: dict[int | None, list[Node]] = defaultdict(list)
    for n in sorted(nodes, key=lambda n: n.id):
        out[n.parent_id].append(n)
    return out


def path_through(nodes: Sequence[Node], chosen: int) -> tuple[list[int], dict[int, int]]:
    """The shown path once turn `chosen` is shown: its ancestors, itself, and below it the branch last shown there
    (each turn's remembered child, else its newest). Also the remembered children this choice sets (parent -> child),
    so that coming back to any of those ancestors shows this branch again."""
    by_id = {n.id: n for n in nodes}
    kids = children_of(nodes)
    up: list[int] = []
    node: Node | None = by_id[chosen]
    while node is not None:
        up.append(node.id)
        node = by_id.get(node.parent_id) if node.parent_id is not None else None
    up.reverse()
    remembered = {parent: child for parent, child in zip(up, up[1:], strict=False)}
    path, last = list(up), by_id[chosen]
    while below := kids.get(last.id):
        last = next((k for k in below if k.id == last.active_child_id), below[-1])
        path.append(last.id)
    return path, remembered


def versions(nodes: Iterable[Node], shown: Iterable[int]) -> dict[int, tuple[int, int]]:
    """For each shown turn with siblings: (its position among them from 1, how many there are)."""
    kids = children_of(nodes)
    by_id = {n.id: n for ns in kids.values() for n in ns}
    out: dict[int, tuple[int, int]] = {}
    for tid in shown:
        sibs = [n.id for n in kids[by_id[tid].parent_id] if n.idx == by_id[tid].idx]
        if len(sibs) > 1:
            out[tid] = (sibs.index(tid) + 1, len(sibs))
    return out


def sibling(nodes: Iterable[Node], shown: Mapping[int, int], k: int, to: int) -> int | None:
    """The id of version `to` (from 0) of the shown turn at position `k` (`shown`: position -> id); None if none."""
    nodes = list(nodes)
    current = next((n for n in nodes if n.id == shown.get(k)), None)
    if current is None:
        return None
    sibs = [n.id for n in children_of(nodes)[current.parent_id] if n.idx == k]
    return sibs[to] if 0 <= to < len(sibs) else None
