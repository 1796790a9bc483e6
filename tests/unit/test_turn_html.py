"""Stored turns' HTML: rendered once per turn (whatever the number of requests asking), off the event loop."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from fasthtml.common import Div

from app.turn_html import TurnHtml
from varro.db.models import Turn


async def test_each_turn_is_rendered_once_in_the_worker_thread() -> None:
    rendered: list[tuple[int, str]] = []
    loop_thread = threading.get_ident()

    def render(turn: Turn, versions: tuple[int, int] | None) -> Any:
        assert threading.get_ident() != loop_thread  # never on the event loop
        rendered.append((turn.idx, turn.status))
        return Div(f"turn {turn.idx} {turn.status}", f" {versions[0]}/{versions[1]}" if versions else "")

    cache = TurnHtml(render)
    turns = [Turn(id=i + 1, chat_id=1, idx=i, user_text="q", status="complete") for i in range(3)]
    pages = await asyncio.gather(*(cache.html(turns) for _ in range(5)))  # five requests at once
    assert all(str(p[2]) == "<div>turn 2 complete</div>" for p in pages)
    assert await cache.html(turns[1:]) == pages[0][1:]
    assert sorted(rendered) == [(0, "complete"), (1, "complete"), (2, "complete")]
    # A turn written as `running` and finished later is a new entry.
    running = Turn(id=9, chat_id=1, idx=3, user_text="q", status="running")
    await cache.html([running])
    running.status = "stopped"
    assert str((await cache.html([running]))[0]) == "<div>turn 3 stopped</div>"
    # So is a turn that gained a version (its "‹ i/n ›" changed).
    assert str((await cache.html([running], {9: (1, 2)}))[0]) == "<div>turn 3 stopped 1/2</div>"
    cache.close()


async def test_the_cache_keeps_to_its_size() -> None:
    cache = TurnHtml(lambda t, v: Div("x" * 1000), max_bytes=5000)
    await cache.html([Turn(id=i, chat_id=1, idx=i, user_text="q") for i in range(20)])
    assert cache.size <= 5000 and len(cache.cache) <= 5
    cache.close()
