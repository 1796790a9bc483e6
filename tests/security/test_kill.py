"""kill -9 of the server at random moments while several users stream: the database passes integrity_check
and every turn that was complete before the kill (its stored status reached the client) is intact; a turn cut
short is kept with the user's words (tests/security/test_kill_turns.py checks what a restart makes of it).

Each trial restarts the server on the same database, so damage would accumulate and show. A turn is stored
when it starts and completed in one transaction at its end (varro.db.crud.turn.ChatTurns.begin and finish);
WAL with synchronous=NORMAL survives a process crash.
"""

from __future__ import annotations

import asyncio
import random
import signal
from collections.abc import Callable
from pathlib import Path

from websockets.exceptions import ConnectionClosed

from tests.security.client import Tab, answer_text, check_stored, stored_turns
from tests.security.conftest import host_server, size
from varro.agent.demo import stream_chunks

TRIALS = size(3, 40)
USERS = 4
RATE = 400  # tokens a second: turns of 0.05 to 0.15 s, so commits are frequent and the kill lands anywhere


def expected(user_text: str) -> str:
    n = int(user_text.split()[1])
    return "".join(stream_chunks(n, n))


async def chat_away(tab: Tab, known: int, seen: dict[tuple[int, int], str], rng: random.Random) -> bool:
    """Send turn after turn until the server dies; note each turn the server reported stored.
    True when the kill came while a turn was running."""
    k, running = known, False
    try:
        await tab.open(known=known)
        while True:
            text = f"/stream {rng.randint(20, 60)} at {RATE}"
            await tab.send(text)
            running = True
            assert await tab.wait_turn(k, 30) == "complete"
            running = False
            seen[(tab.chat_id, k)] = text
            k += 1
    except (ConnectionClosed, OSError):
        return running  # the server was killed


async def trial(kill: Callable[[], None], tabs: list[Tab], known: dict[int, int], seen: dict,
                rng: random.Random) -> tuple[int, int]:
    """One server life: everyone chats, then kill -9 at a random moment. (turns stored, turns cut short)"""
    for tab in tabs:
        await tab.sign_in(new_chat=not tab.chat_id)
    before = len(seen)
    chatting = [asyncio.create_task(chat_away(t, known.get(t.chat_id, 0), seen, rng)) for t in tabs]
    await asyncio.sleep(rng.uniform(0.2, 2.0))
    kill()
    cut = await asyncio.wait_for(asyncio.gather(*chatting), 30)
    return len(seen) - before, sum(cut)


def test_kill_9_while_streaming_keeps_every_stored_turn(tmp_path: Path) -> None:
    rng = random.Random(8)
    tabs = [Tab("", f"user{i}") for i in range(USERS)]
    seen: dict[tuple[int, int], str] = {}
    stored, cut = 0, 0
    for _ in range(TRIALS):
        known = {chat: len(turns) for chat, turns in check_stored(tmp_path / "varro.db", crashed=True).items()} \
            if (tmp_path / "varro.db").exists() else {}
        with host_server(tmp_path, VARRO_DEMO_TPS=str(RATE)) as srv:
            for tab in tabs:
                tab.base = srv.url

            def kill() -> None:
                srv.process.send_signal(signal.SIGKILL)

            done, interrupted = asyncio.run(trial(kill, tabs, known, seen, rng))
            stored, cut = stored + done, cut + interrupted
            srv.process.wait(10)
        assert srv.process.returncode == -signal.SIGKILL
        by_chat = check_stored(srv.db_path, crashed=True)
        for (chat, k), text in seen.items():
            turn = by_chat[chat][k]
            assert (turn["status"], turn["user_text"]) == ("complete", text), (chat, k)
            assert answer_text(turn) == expected(text), (chat, k)
        for turn in stored_turns(srv.db_path):
            assert turn["status"] != "complete" or answer_text(turn) == expected(turn["user_text"])
    assert cut >= TRIALS, "the kills landed while turns were streaming"
    print(f"\nkill -9: {TRIALS} trials, {stored} turns reported stored and found intact, {cut} turns cut short by the kill")
