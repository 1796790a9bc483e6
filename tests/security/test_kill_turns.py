"""kill -9 at random moments of a first turn and of an edit: the user's words are kept, and no edit leaves a hole.

Before turns were stored when they started, a crash mid-answer lost the user's message; and an edit removed the
turns it replaced, then wrote the new one only when its answer ended, so a crash during the regeneration left only
turn 0 (issue 14, point 6). Now the message is stored first (status `running`, stopped at the next start-up),
and an edit's removal and its new message are one transaction (varro/db/crud/turn.py).

Each trial kills the server, and the next server life (on the same database) checks what the user would see.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from tests.e2e.server import Server
from tests.security.client import Tab, check_stored, stored_turns
from tests.security.conftest import host_server, size

TRIALS = size(6, 50)
ANSWER = "/stream 60 at 200"  # 0.3 s of answer: the kill lands anywhere in it
SHORT = "/stream 5 at 400"

Outcome = Callable[[list[dict]], str]  # checks a chat's stored turns after the crash and a restart; names the case
Action = Callable[[Tab, random.Random], Awaitable[Outcome]]


async def read_for(tab: Tab, seconds: float) -> None:
    """Read what the server sends for `seconds` (as the page would), then return."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while True:
                await tab.recv(seconds + 1)


async def first_turn(tab: Tab, rng: random.Random) -> Outcome:
    """Send a first message; once the page showed it started, wait a random part of the answer."""
    text = f"first words {tab.chat_id}: {ANSWER}"
    await tab.open()
    await tab.send(text)
    while 'id="turn-0"' not in await tab.recv(10):  # the page shows the turn: the server has it
        pass
    await read_for(tab, rng.uniform(0, 0.4))

    def check(turns: list[dict]) -> str:
        assert [(t["idx"], t["user_text"]) for t in turns] == [(0, text)], turns
        assert turns[0]["status"] in ("stopped", "complete")
        return turns[0]["status"]

    return check


async def edit(tab: Tab, rng: random.Random) -> Outcome:
    """Three finished turns, then an edit of turn 1; a random moment after the edit is sent (stored or not yet)."""
    await tab.open()
    old = [f"turn {k} of {tab.chat_id}: {SHORT}" for k in range(3)]
    for k, text in enumerate(old):
        await tab.send(text)
        assert await tab.wait_turn(k, 30) == "complete"
    new = f"edited {tab.chat_id}: {ANSWER}"
    assert tab.ws is not None
    await tab.ws.send(json.dumps({"action": "edit", "turn": "1", "msg": new}))
    await read_for(tab, rng.uniform(0, 0.5))

    def check(turns: list[dict]) -> str:
        texts = [t["user_text"] for t in turns]
        assert texts in (old, old[:1] + [new]), texts  # the old turns, or the new message: never a hole
        assert turns[0]["status"] == "complete" and turns[-1]["status"] in ("stopped", "complete")
        return "old" if texts == old else f"new {turns[-1]['status']}"

    return check


def run_trials(tmp_path: Path, action: Action, seed: int) -> list[str]:
    """TRIALS server lives, each ending in kill -9 during `action`; what each crash left, as the checks name it."""
    rng = random.Random(seed)
    pending: tuple[int, Outcome] | None = None
    seen: list[str] = []
    for trial in range(TRIALS + 1):
        with host_server(tmp_path, VARRO_DEMO_TPS="200") as srv:
            check_stored(srv.db_path)  # start-up stopped what the crash left running: every turn is final
            if pending is not None:
                chat, check = pending
                seen.append(check(stored_turns(srv.db_path, chat)))
            if trial < TRIALS:
                pending = asyncio.run(one_life(srv, Tab(srv.url, f"user{trial}"), action, rng))
    return seen


async def one_life(srv: Server, tab: Tab, action: Action, rng: random.Random) -> tuple[int, Outcome]:
    await tab.sign_in()
    check = await action(tab, rng)
    srv.process.send_signal(signal.SIGKILL)
    srv.process.wait(10)
    with contextlib.suppress(ConnectionClosed, OSError):
        await tab.close()
    return tab.chat_id, check


@pytest.mark.timeout(size(300, 1800))  # a server life per trial: 50 of them take longer than the usual bound
def test_kill_9_during_a_first_turn_keeps_the_users_words(tmp_path: Path) -> None:
    seen = run_trials(tmp_path, first_turn, seed=14)
    print(f"\nkill -9 in a first turn: {TRIALS} trials, {Counter(seen)}")
    assert "stopped" in seen, "the kills landed while answers were streaming"


@pytest.mark.timeout(size(300, 1800))
def test_kill_9_during_an_edit_leaves_the_old_turns_or_the_new_one(tmp_path: Path) -> None:
    seen = run_trials(tmp_path, edit, seed=6)
    print(f"\nkill -9 in an edit: {TRIALS} trials, {Counter(seen)}")
    assert any(s.startswith("new") for s in seen), "some kills landed after the edit was stored"
