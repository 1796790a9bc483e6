"""A user's chat as a Python console for the escape suite: each `run(code)` is a real turn through the real server
(the demo model runs a fenced python block as is), and its answer is the tool output stored for that turn.

The socket stays open between runs (on an event loop in a thread of its own), so one kernel serves many attempts,
as it would serve one user's many cells.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
from contextlib import closing
from pathlib import Path
from typing import Any

from tests.security.client import Tab, stored_turns


def tool_output(db: Path, chat_id: int, k: int) -> str:
    """What the kernel returned to the model in turn k of a chat (every tool return of the turn, joined)."""
    turn = next(t for t in stored_turns(db, chat_id) if t["idx"] == k)
    parts = [p for m in turn["content"]["assistant"]["messages"] for p in m["parts"]]
    return "\n".join(str(p["content"]) for p in parts if p["part_kind"] == "tool-return")


def user_id(db: Path, name: str) -> int:
    with closing(sqlite3.connect(db, timeout=30)) as conn:
        return int(conn.execute('SELECT id FROM "user" WHERE name = ?', (name,)).fetchone()[0])


class Console:
    def __init__(self, base: str, name: str, db: Path) -> None:
        self.db = db
        self.tab = Tab(base, name)
        self.turns = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._call(self._open())
        self.user_id = user_id(db, name)

    def _call(self, coro: Any, timeout: float = 180) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _open(self) -> None:
        await self.tab.sign_in()
        await self.tab.open()

    @property
    def chat_id(self) -> int:
        return self.tab.chat_id

    def run(self, code: str, seconds: float = 120) -> str:
        """Run `code` as the next turn's cell; the tool output the model got."""
        k = self.turns
        self.turns += 1
        self._call(self._turn(f"```python\n{code}\n```", k, seconds), timeout=seconds + 10)
        return tool_output(self.db, self.chat_id, k)

    async def _turn(self, message: str, k: int, seconds: float) -> None:
        await self.tab.send(message)
        await self.tab.wait_turn(k, seconds)

    def reset_shell(self) -> None:
        """Press "Reset shell" and wait until the old kernel is gone (the badge says the shell is not started)."""

        async def reset() -> None:
            assert self.tab.ws is not None
            await self.tab.ws.send(json.dumps({"action": "reset"}))
            while 'data-status="not started"' not in await self.tab.recv(60):
                pass

        self._call(reset())

    def close(self) -> None:
        try:
            self._call(self.tab.close(), timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
