"""Stored turns as HTML: cached per turn, and rendered off the event loop.

Rendering a stored answer's markdown is the slowest thing the server does (a 1 MB answer took 6 s on the
shared development machine). Done on the event loop for every page view and every websocket `hello`, it froze
every other user's streams and requests (docs/security.md). So a turn is rendered once, in one worker thread
(one, so a single user cannot take every core), and its HTML kept, keyed by the turn's row id and status: a row
id is never reused (AUTOINCREMENT), and a stored turn changes only from `running` to its final status. Edits,
truncations and deletes make new rows or none, so they need no invalidation; a new release of the rendering
code starts a new process with an empty cache. Concurrent requests for a turn being rendered wait for that one
render rather than starting their own.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fasthtml.common import NotStr, to_xml

from varro.db.models import Turn

Versions = tuple[int, int] | None  # which version of its turn a turn is, of how many (None: the only one)
Key = tuple[int | None, str, Versions]
Rendered = dict[Key, str]


def turn_key(turn: Turn, versions: Mapping[int, tuple[int, int]]) -> Key:
    """A turn's HTML changes when it finishes, and when another version of it is made (its "‹ i/n ›")."""
    return (turn.id, turn.status, versions.get(turn.id) if turn.id is not None else None)


class TurnHtml:
    """`await html(turns)`: each turn's HTML, from the cache or rendered in the worker thread by `render`."""

    def __init__(self, render: Callable[[Turn, Versions], Any], max_bytes: int = 128 * 2**20) -> None:
        self.render = render
        self.max_bytes = max_bytes
        self.size = 0
        self.cache: OrderedDict[Key, str] = OrderedDict()  # least recently used first
        self.pending: dict[Key, asyncio.Future[Rendered]] = {}
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="varro-render")

    async def html(self, turns: Sequence[Turn], versions: Mapping[int, tuple[int, int]] | None = None) -> list[NotStr]:
        """`versions`: turn id -> (which version, how many), for the turns that have more than one."""
        versions = versions or {}
        found: Rendered = {}
        misses: dict[Key, Turn] = {}
        for turn in turns:
            key = turn_key(turn, versions)
            if (hit := self.cache.get(key)) is not None:
                self.cache.move_to_end(key)
                found[key] = hit
            elif key not in self.pending:
                misses[key] = turn
        if misses:
            batch = asyncio.get_running_loop().run_in_executor(self.pool, self._render_all, dict(misses))
            for key in misses:
                self.pending[key] = batch
            batch.add_done_callback(lambda done: self._settle(list(misses), done))
        waiting = {id(f): f for t in turns if (f := self.pending.get(turn_key(t, versions))) is not None}
        for future in waiting.values():
            found.update(await asyncio.shield(future))  # a request that goes away leaves the render to finish
        return [NotStr(found[turn_key(t, versions)]) for t in turns]

    def _render_all(self, turns: dict[Key, Turn]) -> Rendered:
        return {key: to_xml(self.render(t, key[2]), indent=False) for key, t in turns.items()}

    def _settle(self, keys: list[Key], done: asyncio.Future[Rendered]) -> None:
        for key in keys:
            self.pending.pop(key, None)
        if done.cancelled() or done.exception() is not None:
            return
        for key, html in done.result().items():
            self.cache[key] = html
            self.size += len(html)
        while self.size > self.max_bytes and self.cache:
            _, old = self.cache.popitem(last=False)
            self.size -= len(old)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
