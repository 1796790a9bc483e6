"""`python -m bench.answer_cpu`: the web process's CPU for a whole streamed answer, a table against prose.

The same answer measured the way an operator meets it: the real server (`python -m app`) with its model on the
OpenAI-compatible provider path (pydantic-ai's `OpenAIChatModel`, the openai SDK) against a loopback stand-in
(`tests.fakes.openai_server`, `ECHO`: the prompt's text back, 3 characters a chunk, `--delay-ms` apart), one tab on
a websocket. A markdown table of `--rows` rows (bench/open_block.py's table) and the same characters as prose
paragraphs (`prose_like`), alternating, each in a chat of its own. Printed per size: the web process's CPU
seconds (utime + stime from /proc, the kernel host and the stand-in apart) from the send to the answer's end,
the median over `--runs`, and the table over prose. The figures are in docs/benchmarks.md.

    python -m bench.answer_cpu [--rows 300,600,1200] [--runs 3] [--delay-ms 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import websockets

from bench.capacity import prepare, session_cookie
from bench.open_block import KINDS, prose_like
from bench.servers import Server, run
from tests.fakes.openai_server import run_fake_openai

ANSWER_WAIT = 600.0  # an answer of 1,200 rows at 1 ms a chunk takes about 30 s; a loaded machine, longer


def answers(rows: int) -> dict[str, str]:
    opener, row = KINDS["table"]
    table = opener + "".join(row(i) for i in range(rows))
    return {"table": table, "prose": prose_like(table)}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in USER_HZ (100 on Linux)


async def one_answer(server: Server, user_id: int, chat_id: int, text: str) -> float:
    """The web process's CPU seconds from the send of `ECHO` + text to the answer's end (its metadata frame)."""
    url = f"ws://{server.url.removeprefix('http://')}/chat/ws?chat_id={chat_id}"
    headers = {"Cookie": session_cookie(user_id), "Origin": server.url}
    async with websockets.connect(url, additional_headers=headers, max_size=None) as ws:
        await ws.send(json.dumps({"action": "hello", "known": 0}))
        await asyncio.sleep(0.5)  # the catch-up of an empty chat is sent and the socket is idle
        before = cpu_seconds(server.process.pid)
        await ws.send(json.dumps({"action": "send", "msg": "ECHO\n" + text}))
        deadline = time.monotonic() + ANSWER_WAIT
        while 'data-status="' not in (frame := await asyncio.wait_for(ws.recv(), deadline - time.monotonic())):
            pass
        if 'data-status="complete"' not in frame:
            raise RuntimeError(f"the answer did not finish: {frame[:300]}")
        return cpu_seconds(server.process.pid) - before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default="300,600,1200", help="sizes of the table, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--delay-ms", type=float, default=1, help="the stand-in model's pause between chunks")
    args = parser.parse_args()
    sizes = [int(r) for r in args.rows.split(",")]
    plan = [(rows, kind) for rows in sizes for _ in range(args.runs) for kind in ("table", "prose")]
    longest = max(len(t) for t in answers(max(sizes)).values())
    with tempfile.TemporaryDirectory(prefix="answer-cpu-") as tmp, \
            run_fake_openai(delay_ms=args.delay_ms) as fake:
        data = Path(tmp) / "data"
        pairs = prepare(data, len(plan))
        env = {"VARRO_MODEL": "openai:fake-model", "OPENAI_BASE_URL": fake, "OPENAI_API_KEY": "bench-key",
               "VARRO_MAX_MESSAGE_CHARS": str(longest + 100)}
        with run("app", data, **env) as server:
            asyncio.run(one_answer(server, *pairs[0], "warming up: **every** `part` loads once\n"))
            spent: dict[tuple[int, str], list[float]] = {}
            for (rows, kind), (user_id, chat_id) in zip(plan, pairs[1:], strict=True):
                seconds = asyncio.run(one_answer(server, user_id, chat_id, answers(rows)[kind]))
                spent.setdefault((rows, kind), []).append(seconds)
    print(f"web process CPU for a whole answer, {args.delay_ms:g} ms a 3-character chunk, median of {args.runs}\n")
    print("| rows | characters (table) | table, s | prose, s | table / prose |")
    print("|--:|--:|--:|--:|--:|")
    for rows in sizes:
        table, prose = (statistics.median(spent[(rows, kind)]) for kind in ("table", "prose"))
        print(f"| {rows:,} | {len(answers(rows)['table']):,} | {table:.2f} | {prose:.2f} | {table / prose:.2f} |")


if __name__ == "__main__":
    main()
