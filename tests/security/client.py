"""A scripted browser tab without a browser: sign in over HTTP, then speak the chat's websocket protocol.

Frames are read the way the page reads them; a turn is finished when its `#meta-k` arrives with a status
(the server sends it only after the turn is stored).
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from varro.chat.content import messages_of

IDLE = 'data-running="false"'
LOST_AFTER_S = 5.0  # a finished turn's stored status follows its "done" at once
START_TAG = re.compile(r"<div\b[^>]*>")
META_ID = re.compile(r'\bid="meta-(\d+)"')
STATUS = re.compile(r'\bdata-status="(\w+)"')


def turn_statuses(frame: str) -> dict[int, str]:
    """The turns a frame reports as stored: `#meta-k` elements with a `data-status` (attributes in any order)."""
    found = {}
    for tag in START_TAG.findall(frame):
        if (meta := META_ID.search(tag)) and (status := STATUS.search(tag)):
            found[int(meta[1])] = status[1]
    return found


@dataclass
class Tab:
    """One user's tab on one chat of a server at `base` (`http://127.0.0.1:N`)."""

    base: str
    name: str
    cookies: str = ""
    chat_id: int = 0
    ws: ClientConnection | None = None
    frames: list[str] = field(default_factory=list)
    statuses: dict[int, str] = field(default_factory=dict)
    forwarded_for: str = ""  # sent as X-Forwarded-For: the client address, on a server that trusts loopback proxies

    async def sign_in(self, new_chat: bool = True) -> None:
        """Log in through the host's `/login/{name}` (or the demo user's `/chat`) and open a fresh chat.

        A client of its own, so no other tab's cookie comes along (and no proxy from the environment)."""
        login = f"{self.base}/login/{self.name}" if self.name else f"{self.base}/chat"
        async with httpx.AsyncClient(trust_env=False, timeout=30, headers={"Origin": self.base}) as http:
            await http.get(login, follow_redirects=False)
            if new_chat:
                resp = await http.post(f"{self.base}/chat/new", follow_redirects=False)
                assert resp.status_code == 303, resp.text
                self.chat_id = int(resp.headers["location"].rsplit("/", 1)[1])
            self.cookies = "; ".join(f"{k}={v}" for k, v in http.cookies.items())

    async def open(self, known: int = 0, origin: str | None = "", **kw: Any) -> ClientConnection:
        """Open the socket (same origin unless told otherwise) and say what the page shows."""
        url = self.base.replace("http", "ws", 1) + f"/chat/ws?chat_id={self.chat_id}"
        headers = {"Cookie": self.cookies} if self.cookies else {}
        if self.forwarded_for:
            headers["X-Forwarded-For"] = self.forwarded_for
        self.ws = await connect(url, origin=self.base if origin == "" else origin, additional_headers=headers,
                                open_timeout=20, max_size=None, **kw)
        await self.ws.send(json.dumps({"action": "hello", "known": known}))
        return self.ws

    async def send(self, msg: str) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps({"action": "send", "msg": msg}))

    async def stop(self) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps({"action": "stop"}))

    async def recv(self, seconds: float) -> str:
        assert self.ws is not None
        frame = await asyncio.wait_for(self.ws.recv(), seconds)
        text = frame if isinstance(frame, str) else frame.decode()
        self.frames.append(text)
        if "data-status" in text:  # most frames are deltas: skip the parse
            self.statuses.update(turn_statuses(text))
        return text

    async def wait_turn(self, k: int, seconds: float = 60) -> str:
        """Read frames until turn k is stored; its status. A turn that ends (progress back to idle) and is not
        stored right after is a lost turn: that fails at once rather than at the deadline."""
        loop = asyncio.get_running_loop()
        deadline, ended = loop.time() + seconds, None
        while k not in self.statuses:
            if ended is not None and loop.time() > ended + LOST_AFTER_S:
                raise AssertionError(f"turn {k} ended but was not stored: {self.frames[-3:]}")
            try:
                frame = await self.recv(max(0.01, min(deadline, (ended or deadline) + LOST_AFTER_S) - loop.time()))
            except TimeoutError:
                if ended is None:
                    raise
                continue
            if IDLE in frame and k not in self.statuses:
                ended = loop.time()
        return self.statuses[k]

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None


async def flood_once(tab: Tab, frames: int = 50) -> tuple[int, int | None]:
    """Open `tab`, send `frames` broken frames, and read until the socket ends: how many the server answered (each
    answer says "not valid JSON"), and the close code if it closed the socket (None if it went quiet or failed)."""
    answered, code = 0, None
    try:
        await tab.open()
        for _ in range(frames):
            await tab.ws.send("{broken")
        while True:
            answered += "not valid JSON" in await tab.recv(5)
    except ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd else None
    except (OSError, TimeoutError):
        pass
    await tab.close()
    return answered, code


def stored_turns(db: Path, chat_id: int | None = None) -> list[dict[str, Any]]:
    """Every shown turn (of one chat, or all; not earlier versions), read with plain sqlite3 as an operator would."""
    with closing(sqlite3.connect(db, timeout=30)) as conn:
        conn.row_factory = sqlite3.Row
        where, args = ("WHERE on_path AND chat_id = ?", (chat_id,)) if chat_id is not None else ("WHERE on_path", ())
        rows = conn.execute(f"SELECT id, chat_id, idx, user_text, content, status FROM turn {where} ORDER BY chat_id, idx",
                            args).fetchall()
    return [{**dict(r), "content": json.loads(r["content"])} for r in rows]


def integrity(db: Path) -> str:
    with closing(sqlite3.connect(db, timeout=30)) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def unanswered_tool_calls(turn: dict[str, Any]) -> list[str]:
    """Tool calls in a stored turn without a result in the same turn (a provider would refuse the history)."""
    parts = [p for m in turn["content"]["assistant"]["messages"] for p in m["parts"]]
    answered = {p["tool_call_id"] for p in parts if p["part_kind"] in ("tool-return", "retry-prompt")}
    return [p["tool_call_id"] for p in parts if p["part_kind"] == "tool-call" and p["tool_call_id"] not in answered]


def answer_text(turn: dict[str, Any]) -> str:
    """The turn's model text, every text part joined."""
    return "".join(p["content"] for m in turn["content"]["assistant"]["messages"] for p in m["parts"]
                   if p["part_kind"] == "text")


def check_stored(db: Path, crashed: bool = False) -> dict[int, list[dict[str, Any]]]:
    """What holds for the database whatever happened: intact file, foreign keys, every chat's turns numbered
    0..n-1 with a final status, readable content and no tool call left without its result. Turns by chat.

    `crashed`: read right after a kill, before a restart stops them: a chat's last turn may still be `running`."""
    assert integrity(db) == "ok"
    with closing(sqlite3.connect(db, timeout=30)) as conn:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    by_chat: dict[int, list[dict[str, Any]]] = {}
    for turn in stored_turns(db):
        by_chat.setdefault(turn["chat_id"], []).append(turn)
    for chat, turns in by_chat.items():
        assert [t["idx"] for t in turns] == list(range(len(turns))), chat
        for t in turns:
            running_ok = crashed and t is turns[-1]
            assert t["status"] in ("complete", "stopped", "error") or (running_ok and t["status"] == "running"), t
            messages_of(t["content"])  # parses as pydantic-ai messages
            assert unanswered_tool_calls(t) == [], (chat, t["idx"])
    return by_chat
