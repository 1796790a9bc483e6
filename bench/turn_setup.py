"""`python -m bench.turn_setup [--before DIR]`: what a turn's start costs in SQL, here and in another checkout.

A turn's start waits for its row to be written (`ChatTurns.begin`) before the model is asked. Each checkout
runs the same script in a subprocess of its own (its own code on `PYTHONPATH`) on a fresh SQLite file: one
chat, `--turns` turns begun and finished one after another, as a chat is used; then a burst, as when many answers
start and end at once: 40 chats, each beginning a turn at the same time, then each finishing it, five times over.
Printed: SQL statements per `begin` and its wall time (median over the turns), the process's CPU for a turn's start
and end in the burst (the writer thread's included), the median of `--runs` runs, the checkouts alternating so
load from elsewhere meets both alike. DIR is a copy of the earlier tree (`git archive REV | tar -x -C DIR`).

    python -m bench.turn_setup --before /tmp/before --turns 300 --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = """
import asyncio, json, statistics, sys, tempfile, time
from sqlalchemy import event
from sqlalchemy.engine import Engine
from varro.db.crud import Store
from varro.db.engine import make_engine, make_sessions
from varro.db.migrate import migrate

# An answer of 300 words as a turn stores it (the search index reads its text parts).
ANSWER = {"v": 1, "assistant": {"messages": [{"kind": "response", "parts": [
    {"part_kind": "text", "content": " ".join(f"word{i}" for i in range(300))}]}], "attachments": {}}}

async def main(turns):
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp}/db.sqlite")
        await migrate(engine)
        store = Store(make_sessions(engine))
        user = await store.users.ensure("bench")
        chats = store.chats.for_user(user.id)
        chat = await chats.create()
        ct = await chats.turns(chat.id)
        seen = []
        event.listen(Engine, "before_cursor_execute", lambda *a: seen.append(1))
        times, counts = [], []
        for k in range(turns):
            seen.clear()
            start = time.perf_counter()
            await ct.begin(k, f"message {k}", {"v": 1, "messages": []})
            times.append(time.perf_counter() - start)
            counts.append(len(seen))
            await ct.finish(k, {"v": 1, "messages": [], "meta": {"n": k}}, "complete")
        burst = [await chats.turns((await chats.create()).id) for _ in range(40)]
        cpu = time.process_time()
        for k in range(5):
            await asyncio.gather(*[b.begin(k, "a question", {"v": 1, "messages": []}) for b in burst])
            await asyncio.gather(*[b.finish(k, ANSWER, "complete") for b in burst])
        cpu_ms = (time.process_time() - cpu) * 1000 / (5 * len(burst))
        await engine.dispose()
    print(json.dumps({"ms": statistics.median(times) * 1000, "statements": statistics.median(counts), "cpu_ms": cpu_ms}))

asyncio.run(main(int(sys.argv[1])))
"""


def run(tree: Path, turns: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    out = subprocess.run([sys.executable, "-c", CHILD, str(turns)], cwd=tree, env=env, capture_output=True,
                         text=True, check=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, help="the earlier checkout, measured beside this one")
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    trees = {"after": ROOT} if args.before is None else {"before": args.before.resolve(), "after": ROOT}
    got: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    for i in range(args.runs):
        for name in list(trees) if i % 2 == 0 else list(trees)[::-1]:
            got[name].append(run(trees[name], args.turns))
    print(f"{args.turns} turns a run, median of {args.runs} runs")
    print("| checkout | SQL statements per turn start | turn start, ms (median) | CPU a turn's start and end, 40 chats "
          "at once, ms |")
    print("|---|--:|--:|--:|")
    for name, runs in got.items():
        print(f"| {name} | {statistics.median(r['statements'] for r in runs):.0f} | "
              f"{statistics.median(r['ms'] for r in runs):.2f} | {statistics.median(r['cpu_ms'] for r in runs):.2f} |")


if __name__ == "__main__":
    main()
