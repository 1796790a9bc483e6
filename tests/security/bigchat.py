"""A chat with one very long stored answer (markdown: prose, lists, tables, code), written straight into the
database, as the red team's 1.1 MB chat was: the page and the websocket `hello` must render it without
freezing everyone else (tests/security/test_render_load.py, bench/render_load.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import statistics
import time
import urllib.request
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, UserPromptPart
from websockets.exceptions import ConnectionClosed

from tests.security.client import Tab
from varro.chat.content import build_content

SECTION = """## Section {i}

Rivers **shape** the land around them: they cut `valleys`, carry *sediment* and build deltas. See
[the notes](https://example.org/{i}) for more, and remember that ~~nothing~~ everything flows.

- meanders form where the bank is soft ({i})
- oxbow lakes are left behind
  - and slowly fill in

| river | length (km) | basin |
|---|---|---|
| Nile | 6650 | {i} |
| Amazon | 6400 | {i} |

```python
def flow(rate: float, width: float = {i}) -> float:
    # discharge through a simple channel
    return rate * width / 2.0 if width > 0 else 0.0
```

"""


def long_answer(size: int) -> str:
    """Markdown of about `size` characters."""
    parts, total, i = [], 0, 0
    while total < size:
        parts.append(SECTION.format(i=i))
        total += len(parts[-1])
        i += 1
    return "".join(parts)


def add_long_turn(db: Path, chat_id: int, size: int, idx: int = 0) -> None:
    """Store turn `idx` of `chat_id` with an answer of about `size` characters (the server may be running)."""
    prompt = "Write a very long essay on rivers"
    messages = [ModelRequest(parts=[UserPromptPart(prompt)]), ModelResponse(parts=[TextPart(long_answer(size))])]
    content = build_content(prompt, datetime.now(UTC), messages, {}, {"model": "demo"})
    with closing(sqlite3.connect(db, timeout=30)) as conn:
        conn.execute("INSERT INTO turn (chat_id, idx, user_text, content, status, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                     (chat_id, idx, prompt, json.dumps(content), "complete", datetime.now(UTC).isoformat(" ")))
        conn.commit()


@dataclass
class Interference:
    """What another user saw while one user hammered a long chat: their trivial request's latency, the loop lag."""

    p50_ms: float
    p99_ms: float
    requests: int
    hammered: int  # page loads and catch-ups the heavy user got through
    lag: dict[str, float]


async def light_requests(base: str, cookies: str, until: float) -> list[float]:
    """Another user's trivial request (the chat menu's list), over and over until `until`: each one's seconds."""
    times: list[float] = []
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(trust_env=False, timeout=60, headers={"Cookie": cookies}) as http:
        while loop.time() < until:
            start = time.perf_counter()
            (await http.get(f"{base}/chat/history")).raise_for_status()
            times.append(time.perf_counter() - start)
            await asyncio.sleep(0.05)
    return times


async def hammer_page(base: str, cookies: str, chat_id: int, until: float) -> int:
    """The heavy user's `curl` loop on the long chat's page."""
    n = 0
    async with httpx.AsyncClient(trust_env=False, timeout=120, headers={"Cookie": cookies}) as http:
        while asyncio.get_running_loop().time() < until:
            (await http.get(f"{base}/chat/{chat_id}")).raise_for_status()
            n += 1
    return n


async def hammer_hello(tab: Tab, until: float, per_s: float = 2.0) -> int:
    """The heavy user's socket asking for the whole chat again (`hello` with nothing known), `per_s` times a second."""
    n = 0
    with contextlib.suppress(ConnectionClosed):
        await tab.open(known=0)
        while asyncio.get_running_loop().time() < until:
            await tab.ws.send(json.dumps({"action": "hello", "known": 0}))
            n += 1
            with contextlib.suppress(TimeoutError):
                await tab.recv(1 / per_s)
    await tab.close()
    return n


def lag(base: str, method: str = "GET") -> dict[str, float]:
    req = urllib.request.Request(f"{base}/_lag", method=method)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


async def interference(base: str, db: Path, size: int, seconds: float) -> Interference:
    """One user with a chat of one `size`-character answer loads its page in a loop and asks for it over the
    socket twice a second, for `seconds`; another user meanwhile makes trivial requests. (A host server.)"""
    heavy, light = Tab(base, "heavy"), Tab(base, "light")
    await heavy.sign_in()
    await light.sign_in()
    add_long_turn(db, heavy.chat_id, size)
    await asyncio.to_thread(lag, base, "DELETE")
    until = asyncio.get_running_loop().time() + seconds
    times, pages, hellos = await asyncio.gather(light_requests(base, light.cookies, until),
                                                hammer_page(base, heavy.cookies, heavy.chat_id, until),
                                                hammer_hello(heavy, until))
    q = statistics.quantiles(times, n=100, method="inclusive")
    return Interference(q[49] * 1000, q[98] * 1000, len(times), pages + hellos, await asyncio.to_thread(lag, base))
