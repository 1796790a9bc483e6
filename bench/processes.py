"""Several processes as one app, under load: `python -m bench.processes` (figures for docs/benchmarks.md).

    python -m bench.processes                      # 4 processes, 400 users x 3 turns at 100 tokens/s
    python -m bench.processes --users 40 --smoke   # a few seconds (tests/e2e/test_processes.py runs one)

N server processes share one PostgreSQL database and one Redis (a prefix of the run's own). Each user sends
its turns one after another, each turn over a new socket to a process picked at random (no sticky routing).
Afterwards it checks, from the database, that every chat has exactly its turns, complete, none lost or twice;
from the processes' own frame traces, that a user's chat never streamed from two processes within one turn;
and from Redis, sampled throughout, that the process sending a user's frames held that user's lease. Token-to-
client latency: a delta's hand-over by the model (server trace) to the client reading the frame that carries it.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import random
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import websockets
from redis.asyncio import Redis

from bench.capacity import session_cookie
from bench.servers import Server, run
from tests.services import REDIS_URL, pg_database_sync, redis_prefix_sync
from varro.db.crud import Store
from varro.db.engine import make_engine, make_sessions
from varro.db.migrate import migrate


async def make_users(url: str, count: int) -> list[tuple[int, int]]:
    engine = make_engine(url)
    await migrate(engine)
    store = Store(make_sessions(engine))
    pairs = []
    for i in range(count):
        user = await store.users.ensure(f"load-{i}")
        pairs.append((user.id, (await store.chats.for_user(user.id).create()).id))
    await engine.dispose()
    return pairs


async def stored_turns(url: str, pairs: list[tuple[int, int]]) -> dict[int, list[tuple[int, str]]]:
    engine = make_engine(url)
    store = Store(make_sessions(engine))
    out = {}
    for user, chat in pairs:
        turns = await store.chats.for_user(user).turns(chat)
        out[chat] = [(t.idx, t.status) for t in await turns.list()] if turns else []
    await engine.dispose()
    return out


async def one_turn(server: Server, user: int, chat: int, k: int, text: str) -> list[float]:
    """A tab on `server` for turn k: hello, send, read frames until the turn's metadata; their arrival times."""
    url = f"ws://{server.url.removeprefix('http://')}/chat/ws?chat_id={chat}"
    headers = {"Cookie": session_cookie(user), "Origin": server.url}
    times: list[float] = []
    async with websockets.connect(url, additional_headers=headers, max_size=None, open_timeout=120) as ws:
        await ws.send(json.dumps({"action": "hello", "known": k}))
        await ws.send(json.dumps({"action": "send", "msg": text}))
        while True:
            frame = await ws.recv()
            times.append(time.time())
            if f'id="meta-{k}"' in frame and 'data-status="' in frame:
                return times


async def user_run(servers: list[Server], user: int, chat: int, turns: int, text: str,
                   received: dict[int, list[float]]) -> None:
    times = received.setdefault(chat, [])
    for k in range(turns):
        times += await one_turn(random.choice(servers), user, chat, k, text)


async def sample_leases(prefix: str, users: list[int], samples: list[tuple[float, dict[int, str]]],
                        stop: asyncio.Event) -> None:
    redis = Redis.from_url(REDIS_URL)
    keys = [f"{prefix}lease:{u}" for u in users]
    while not stop.is_set():
        values = await redis.mget(keys)
        samples.append((time.time(), {u: v.decode().split("-", 1)[0] for u, v in zip(users, values, strict=True) if v}))
        await asyncio.sleep(0.05)
    await redis.aclose()


def overlaps(servers: list[Server], chat: int) -> int:
    """Frames of one chat from two processes within one turn: the process changed before a turn had finished."""
    frames = sorted((r["t"], s.process.pid, r["k"]) for s in servers for r in s.trace.records(chat))
    bad, finished = 0, True
    for (_, pid, kinds), (_, prev_pid, _) in zip(frames[1:], frames, strict=False):
        if pid != prev_pid and not finished:
            bad += 1
        finished = any("TurnFinished" in k for k in kinds)
    return bad


def lease_misses(servers: list[Server], pairs: list[tuple[int, int]], samples: list[tuple[float, dict[int, str]]]) -> int:
    """Frames a process sent for a user while Redis showed another holder both just before and just after."""
    times = [t for t, _ in samples]
    misses = 0
    for user, chat in pairs:
        for s in servers:
            for r in s.trace.records(chat):
                i = bisect.bisect(times, r["t"])
                around = [samples[j][1].get(user) for j in (i - 1, i) if 0 <= j < len(samples)]
                if around and all(h is not None and h != str(s.process.pid) for h in around):
                    misses += 1
    return misses


def latencies(servers: list[Server], received: dict[int, list[float]]) -> tuple[list[float], int]:
    delivery, unmatched = [], 0
    for chat, got in received.items():
        records = sorted((r for s in servers for r in s.trace.records(chat)), key=lambda r: r["t"])
        if len(records) != len(got):
            unmatched += 1
            continue
        delivery += [(t - d) * 1000 for r, t in zip(records, got, strict=True) for d in r["d"]]
    return delivery, unmatched


@contextlib.contextmanager
def servers_up(n: int, root: Path, env: dict[str, str]) -> Iterator[list[Server]]:
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(run("app", root / f"p{i}", **env)) for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--users", type=int, default=400)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--tps", type=float, default=100)
    parser.add_argument("--tokens", type=int, default=100)
    parser.add_argument("--smoke", action="store_true", help="2 processes, 6 users x 2 turns of 20 tokens")
    a = parser.parse_args()
    if a.smoke:
        a.processes, a.users, a.turns, a.tokens = 2, 6, 2, 20
    with pg_database_sync() as url, redis_prefix_sync() as prefix, tempfile.TemporaryDirectory() as tmp:
        pairs = asyncio.run(make_users(url, a.users))
        env = {"VARRO_DATABASE_URL": url, "VARRO_REDIS_URL": REDIS_URL, "VARRO_REDIS_PREFIX": prefix,
               "VARRO_DEMO_USER": "", "VARRO_DEMO_TPS": str(a.tps)}
        with servers_up(a.processes, Path(tmp), env) as servers:
            received: dict[int, list[float]] = {}
            samples: list[tuple[float, dict[int, str]]] = []

            async def drive() -> float:
                stop = asyncio.Event()
                sampler = asyncio.create_task(sample_leases(prefix, [u for u, _ in pairs], samples, stop))
                t0 = time.monotonic()
                text = f"/stream {a.tokens} at {a.tps:g}"
                await asyncio.gather(*(user_run(servers, u, c, a.turns, text, received) for u, c in pairs))
                stop.set()
                await sampler
                return time.monotonic() - t0

            wall = asyncio.run(drive())
            time.sleep(0.5)  # the traces' last lines
            stored = asyncio.run(stored_turns(url, pairs))
            wrong = sum(1 for turns in stored.values() if turns != [(k, "complete") for k in range(a.turns)])
            overlap = sum(overlaps(servers, c) for _, c in pairs)
            misses = lease_misses(servers, pairs, samples)
            delivery, unmatched = latencies(servers, received)
    q = statistics.quantiles(delivery, n=100) if len(delivery) > 1 else [float("nan")] * 99
    print(f"{a.processes} processes, {a.users} users x {a.turns} turns of {a.tokens} tokens at {a.tps:g}/s: "
          f"{wall:.1f} s")
    print(f"chats not stored exactly as sent (a turn lost, twice, or not complete): {wrong} of {a.users}")
    print(f"a chat streaming from two processes within one turn: {overlap}; frames sent without the lease: {misses}")
    print(f"token-to-client ms p50 {q[49]:.1f}  p99 {q[98]:.1f}  ({len(delivery)} deltas; "
          f"{unmatched} chats' frames not matched to the trace)")
    if wrong or overlap or misses:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
