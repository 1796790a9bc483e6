"""Figure 5: many sessions streaming at once through one server process, over websockets driven directly.

Each session is a distinct user (the app keeps one live session per user): the users and their chats
are created in the database before the server starts, and each socket carries a session cookie
signed with the bench server's key, exactly as Starlette's SessionMiddleware signs it. Delivery
latency is the model's hand-over of a delta (server trace) to the moment the client has read the
frame carrying it; the clients share one Python process, so their own scheduling is included.
"""

from __future__ import annotations

import asyncio
import json
import time
from base64 import b64encode
from dataclasses import dataclass
from pathlib import Path

import websockets
from itsdangerous import TimestampSigner

from bench.servers import SECRET_KEY, Server
from varro.db.crud import Store
from varro.db.engine import make_engine, make_sessions
from varro.db.migrate import migrate


@dataclass
class Capacity:
    sessions: int
    tps: float
    tokens: int  # per session
    delivery_ms: list[float]  # every delta of every session: model hand-over -> client has the frame
    wire_ms: list[float]  # the same deltas: frame handed to the socket -> client has it
    late_s: list[float]  # for each delta, seconds since the sessions were started (to see when it was late)
    rss_idle_kib: int
    rss_peak_kib: int
    cpu_percent: float  # the server process, of one core, while the sessions streamed
    wall_s: float
    completed: int

    @property
    def kib_per_session(self) -> float:
        return (self.rss_peak_kib - self.rss_idle_kib) / self.sessions


async def _make_users(db: Path, count: int) -> list[tuple[int, int]]:
    """`count` users with one chat each, plus a warm-up user first: (user id, chat id) pairs."""
    engine = make_engine(f"sqlite+aiosqlite:///{db}")
    await migrate(engine)
    store = Store(make_sessions(engine))
    pairs = []
    for i in range(count + 1):
        user = await store.users.ensure(f"bench-{i}")
        chat = await store.chats.for_user(user.id).create()
        pairs.append((user.id, chat.id))
    await engine.dispose()
    return pairs


def prepare(data: Path, sessions: int) -> list[tuple[int, int]]:
    data.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_make_users(data / "varro.db", sessions))


def session_cookie(user_id: int) -> str:
    payload = b64encode(json.dumps({"user_id": user_id}).encode())
    return "session_=" + TimestampSigner(SECRET_KEY).sign(payload).decode()


async def _session(server: Server, user_id: int, chat_id: int, text: str, start: asyncio.Event,
                   received: dict[int, list[float]]) -> None:
    """One tab without a browser: hello, wait for the go, send, read frames until the turn's metadata arrives."""
    host = server.url.removeprefix("http://")
    if server.kind == "app":
        url, headers = f"ws://{host}/chat/ws?chat_id={chat_id}", {"Cookie": session_cookie(user_id), "Origin": server.url}
    else:
        url, headers = f"ws://{host}/ws?run={chat_id}", {"Origin": server.url}
    times: list[float] = []
    received[chat_id] = times
    async with websockets.connect(url, additional_headers=headers, max_size=None) as ws:
        if server.kind == "app":
            await ws.send(json.dumps({"action": "hello", "known": 0}))
        await start.wait()
        await ws.send(json.dumps({"action": "send", "msg": text}))
        while True:
            frame = await ws.recv()
            times.append(time.time())
            if 'data-status="' in frame or ('data-running="false"' in frame and server.kind == "baseline"):
                return


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


async def _drive(server: Server, pairs: list[tuple[int, int]], tokens: int, tps: float) -> Capacity:
    text = f"/stream {tokens} at {tps:g}"
    warm_user, warm_chat = pairs[0]
    go = asyncio.Event()
    go.set()
    await _session(server, warm_user, warm_chat, "/stream 200 at 2000", go, {})  # load everything once
    await asyncio.sleep(0.5)
    idle = server.rss_kib()
    start, received = asyncio.Event(), {}
    tasks = [asyncio.create_task(_session(server, u, c, text, start, received)) for u, c in pairs[1:]]
    await asyncio.sleep(1.0)  # every socket open and attached
    peaks, ticks0, t0 = [idle], _cpu_ticks(server.process.pid), time.monotonic()

    async def sample() -> None:
        while True:
            await asyncio.sleep(0.25)
            peaks.append(server.rss_kib())

    sampler = asyncio.create_task(sample())
    start.set()
    await asyncio.wait(tasks)  # the wall time to the last answer's end, not to the next sample
    wall = time.monotonic() - t0
    sampler.cancel()
    peak = max(peaks)
    cpu = (_cpu_ticks(server.process.pid) - ticks0) / 100 / wall * 100  # USER_HZ is 100 on Linux
    done = sum(1 for t in tasks if t.exception() is None)
    await asyncio.sleep(0.3)
    delivery, wire, when = [], [], []
    t_start = time.time() - wall - 0.3
    for _, chat in pairs[1:]:
        for rec, got in zip(server.trace.records(chat), received.get(chat, []), strict=False):
            delivery += [got * 1000 - d * 1000 for d in rec["d"]]
            wire += [got * 1000 - rec["t"] * 1000] * len(rec["d"])
            when += [d - t_start for d in rec["d"]]
    return Capacity(len(pairs) - 1, tps, tokens, delivery, wire, when, idle, peak, cpu, wall, done)


def measure(server: Server, pairs: list[tuple[int, int]], tokens: int, tps: float) -> Capacity:
    return asyncio.run(_drive(server, pairs, tokens, tps))
