"""A running answer reachable from every process: a tab that opens the chat on another process catches up on the
turn from its Redis stream and follows it live, Stop sent there stops it, and a turn whose process died is stored
as `stopped` with what was streamed, the chat usable at once. Two registries stand for two processes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart
from redis.asyncio import Redis

from tests.processes import gates, process, scale_process, shut, user_with_chat
from tests.redis_proxy import redis_link
from tests.services import REDIS_URL
from tests.unit.test_live import FakeTab
from tests.unit.test_scale import redis  # noqa: F401 (the fixture)
from tests.waits import until, until_true
from varro.chat.content import Attachment, build_content, messages_of
from varro.chat.events import (
    CellStarted,
    Event,
    Notice,
    PartDelta,
    PartStarted,
    ResponseFinished,
    ToolsFinished,
    TurnFinished,
    TurnStarted,
)
from varro.chat.live import LiveSessions
from varro.chat.remote import recovered
from varro.chat.session import ChatSession
from varro.db.crud import Store
from varro.db.models import utcnow
from varro.files import ChatFile
from varro.scale.errors import Unavailable
from varro.scale.runlog import RunHub, decode, encode, joined_deltas

HELD = "/stream 20 until held"


def text_of(events: list[Event]) -> str:
    return "".join(e.text if isinstance(e, PartDelta) else e.content if isinstance(e, PartStarted) else ""
                   for e in events)


def test_every_kind_of_event_crosses_redis_unchanged() -> None:
    call = ToolCallPart("run_python", {"code": "1"}, "c1")
    events: list[Event] = [
        TurnStarted(3, "hi <b>", True, (ChatFile("data.csv", 12, "text/csv"),)), PartDelta(3, 0, 1, "w0 "),
        CellStarted(3, 1, 1764400000.5), Notice(3, "differs", ((1, "plot it"),)),
        ResponseFinished(3, 0, ModelResponse(parts=[TextPart("w0 "), call])),
        ToolsFinished(3, 1, ModelRequest(parts=[ToolReturnPart("run_python", {"stdout": "1"}, "c1")]),
                      {"c1": [Attachment("1/2/ab.png", "image/png")]}, [call]),
        TurnFinished(3, "stopped", {"model": "m", "usage": {"output_tokens": 2}}),
    ]
    for event in events:
        assert decode(encode(event)) == event


def test_a_flush_of_deltas_is_one_stream_entry_per_part_in_order() -> None:
    batch: list[Event] = [PartDelta(0, 0, 1, "a"), PartDelta(0, 0, 1, "b"), PartDelta(0, 0, 2, "c"),
                          PartDelta(0, 0, 1, "d"), CellStarted(0, 1, 1.0), PartDelta(0, 1, 0, "e"), PartDelta(0, 1, 0, "f")]
    assert joined_deltas(batch) == [PartDelta(0, 0, 1, "ab"), PartDelta(0, 0, 2, "c"), PartDelta(0, 0, 1, "d"),
                                    CellStarted(0, 1, 1.0), PartDelta(0, 1, 0, "ef")]


def test_a_turn_cut_off_mid_answer_keeps_its_finished_steps_and_the_words_that_arrived() -> None:
    call = ToolCallPart("run_python", {"code": "1"}, "c1")
    events: list[Event] = [
        ResponseFinished(0, 0, ModelResponse(parts=[call])),
        ToolsFinished(0, 1, ModelRequest(parts=[ToolReturnPart("run_python", "1", "c1")]), {}, [call]),
        PartStarted(0, 2, 0, "text", "It "), PartDelta(0, 2, 0, "printed "), PartDelta(0, 2, 0, "one"),
        PartStarted(0, 2, 1, "tool_call", "{\"co", "run_python"),  # a call cut short never ran: dropped
    ]
    messages, _ = recovered("run it", events)
    assert [type(m).__name__ for m in messages] == ["ModelRequest", "ModelResponse", "ModelRequest", "ModelResponse"]
    last = messages[-1]
    assert isinstance(last, ModelResponse) and last.parts == [TextPart("It printed one")]


async def followed_from_b(store: Store, tmp_path: Path, prefix: str, a_redis: str = REDIS_URL
                          ) -> tuple[LiveSessions, LiveSessions, ChatSession, ChatSession, FakeTab]:
    """An answer running on process A (which reaches Redis at `a_redis`), held open until the test opens the gate
    "held", and the user's tab opened on process B, which follows it."""
    a = await process(store, tmp_path, prefix, redis_url=a_redis)
    b = await process(store, tmp_path, prefix, words=3)
    uid, chat = await user_with_chat(store)
    tab_a, tab_b = FakeTab(), FakeTab()
    running = await a.connect(uid, chat, tab_a)
    await a.attach(uid, tab_a, 0)
    running.send(HELD)
    await until(lambda: len(tab_a.events) > 20, "the answer to stream on the first process")
    following = await b.connect(uid, chat, tab_b)
    assert tab_a.was_replaced and running.busy, "the answer goes on where it runs"
    await until(lambda: len(following.inflight.snapshot(0)) > 3, "the follower to read the stream")
    await b.attach(uid, tab_b, 0)
    return a, b, running, following, tab_b


async def test_a_tab_on_another_process_follows_the_running_answer_and_stops_it(
        store: Store, tmp_path: Path, redis: tuple[Redis, str]) -> None:  # noqa: F811
    a, b, running, following, tab_b = await followed_from_b(store, tmp_path, redis[1])
    assert tab_b.running and isinstance(tab_b.caught_up[0], TurnStarted)
    assert tab_b.caught_up[0].user_text == HELD
    await until(lambda: any(isinstance(e, PartDelta) for e in tab_b.events), "the answer to go on live on B's tab")
    assert text_of(tab_b.caught_up + tab_b.events).startswith("A streaming test"), "from its first words"
    await following.stop()  # Stop on B reaches the run on A
    await until(lambda: any(isinstance(e, TurnFinished) for e in tab_b.events), "the stopped turn to reach B's tab")
    await following.finished()
    [turn] = await following.turns.list()
    assert turn.status == "stopped" and following.turn_count == 1 and not running.busy
    shown = text_of(tab_b.caught_up + tab_b.events)
    stored = messages_of(turn.content)[-1]
    assert isinstance(stored, ModelResponse) and shown.startswith(stored.parts[0].content)  # type: ignore[union-attr]
    await following.send("and now?")  # the chat is B's now
    await following.finished()
    assert [t.status for t in await following.turns.list()] == ["stopped", "complete"]
    await shut(a, b)


async def test_a_turn_whose_process_died_is_stored_stopped_and_the_chat_goes_on_elsewhere(
        store: Store, database_url: str, tmp_path: Path, redis: tuple[Redis, str]) -> None:  # noqa: F811
    uid, chat = await user_with_chat(store)
    b, tab_b = await process(store, tmp_path, redis[1], words=3), FakeTab()
    async with scale_process(database_url, redis[1], 1.0, tmp_path) as a:
        await a.ask(f"connect {uid} {chat}", "connected")
        await a.ask(f"send {HELD}", "streaming")
        following = await b.connect(uid, chat, tab_b)
        await b.attach(uid, tab_b, 0)
        await until(lambda: len(text_of(tab_b.caught_up + tab_b.events)) > 120, "B's tab to follow the answer")
        a.kill()  # mid-answer: no more events, no heartbeat, nothing stored
    await until(lambda: any(isinstance(e, TurnFinished) for e in tab_b.events), "B to end the turn", within_s=20)
    finished = [e for e in tab_b.events if isinstance(e, TurnFinished)]
    assert finished[0].status == "stopped"
    await following.finished()
    [turn] = await following.turns.list()
    assert turn.status == "stopped" and turn.user_text == HELD
    stored = messages_of(turn.content)[-1]
    assert isinstance(stored, ModelResponse) and len(stored.parts[-1].content) > 20  # type: ignore[union-attr]
    assert stored.parts[-1].content in text_of(tab_b.caught_up + tab_b.events)  # type: ignore[union-attr]
    assert "went away" in turn.content["meta"]["notices"][0]["message"]
    await following.send("still here?")
    await following.finished()
    assert [t.status for t in await following.turns.list()] == ["stopped", "complete"]
    await shut(b)


async def test_a_run_on_another_chat_goes_on_when_the_user_moves_to_another_process_and_counts_there(
        store: Store, tmp_path: Path, redis: tuple[Redis, str]) -> None:  # noqa: F811
    _, prefix = redis
    a, b = await process(store, tmp_path, prefix, max_runs=1), await process(store, tmp_path, prefix, max_runs=1)
    uid, chat = await user_with_chat(store)
    other = (await store.chats.for_user(uid).create()).id
    tab_a = FakeTab()
    running = await a.connect(uid, chat, tab_a)
    await a.attach(uid, tab_a, 0)
    running.send(HELD)
    await until(lambda: len(tab_a.events) > 5, "the answer to stream")
    await b.connect(uid, other, FakeTab())
    assert running.busy, "not stopped by the move"
    why = await b.refusal(uid)
    assert why is not None and "1 answer is still being written" in why, "the cap on runs counts A's on B"
    gates(tmp_path).open("held")
    await asyncio.wait_for(running.finished(), 10)
    [turn] = await running.turns.list()
    assert turn.status == "complete"

    async def free() -> bool:
        return await b.refusal(uid) is None

    await until_true(free, "the cap to free up on B once A's run has ended")
    await shut(a, b)


async def test_a_turn_whose_last_events_were_lost_with_redis_shows_finished_on_the_other_process(
        store: Store, tmp_path: Path, redis: tuple[Redis, str]) -> None:  # noqa: F811
    """Process A loses Redis just as its answer ends: the batch with the turn's end (and the record's removal) is
    lost. Redis comes back; the tab following the answer on B is not left showing it running."""
    async with redis_link() as link:
        a, b, running, following, tab_b = await followed_from_b(store, tmp_path, redis[1], link.url)
        assert following.busy
        link.sever()
        gates(tmp_path).open("held")
        await running.finished()
        assert running.publish is not None
        await running.publish.flushed()  # its last batch was tried, and lost
        link.restore()
        await until(lambda: any(isinstance(e, TurnFinished) for e in tab_b.events), "B's tab to see the turn end",
                    within_s=20)
        [finished] = [e for e in tab_b.events if isinstance(e, TurnFinished)]
        assert finished.status == "complete" and not following.busy
        [turn] = await following.turns.list()
        assert turn.status == "complete" and following.turn_count == 1
        await following.send("and now?")  # the chat is usable on B at once
        await following.finished()
        assert [t.status for t in await following.turns.list()] == ["complete", "complete"]
        await shut(a, b)


async def test_a_follower_whose_tab_leaves_ends_and_the_run_goes_on_where_it_runs(
        store: Store, tmp_path: Path, redis: tuple[Redis, str]) -> None:  # noqa: F811
    a, b, running, following, tab_b = await followed_from_b(store, tmp_path, redis[1])
    await b.disconnect(following.user_id, tab_b)
    assert len(b.runs) == 0 and not following.busy, "nothing of the run is kept on B"
    assert running.busy, "Closing the follower did not stop the run"
    gates(tmp_path).open("held")
    await running.finished()
    [turn] = await running.turns.list()
    assert turn.status == "complete", "A's write is not fenced: nobody claimed the chat while it ran"
    await shut(a, b)


async def test_whether_a_chat_runs_elsewhere_unknown_while_redis_is_away_makes_opening_it_unavailable() -> None:
    hub = RunHub(Redis.from_url("redis://127.0.0.1:1/0"), "x:", "me")  # nothing listens on port 1
    with pytest.raises(Unavailable):
        await hub.record(1)


async def test_deleting_a_chat_whose_answer_runs_on_another_process_stops_that_answer(
        store: Store, tmp_path: Path, redis: tuple[Redis, str]) -> None:  # noqa: F811
    a, b, running, following, _ = await followed_from_b(store, tmp_path, redis[1])
    await b.end(following.user_id, following.chat_id)
    await asyncio.wait_for(running.finished(), 10)
    await shut(a, b)


async def test_a_long_turn_s_stream_keeps_every_event_from_its_first_until_it_ends(
        redis: tuple[Redis, str]) -> None:  # noqa: F811
    client, prefix = redis
    hub = RunHub(client, prefix, "A")
    await client.set(f"{prefix}alive:A", 1)
    publish = hub.publisher(1, 9)
    publish(TurnStarted(0, "a long answer"))
    words = 30_000  # deltas: more than any trimming would keep
    for i in range(words):
        publish(PartDelta(0, 0, 0, f"w{i} "))
    await publish.flushed()
    record = await hub.record(9)
    assert record is not None, "the turn is running"
    read: list[Event] = []
    async for event in hub.events(9, record, poll_ms=50):
        read.append(event)
        if text_of(read).endswith(f"w{words - 1} "):
            break
    assert isinstance(read[0], TurnStarted), "nothing trimmed while the turn runs"
    assert text_of(read) == "".join(f"w{i} " for i in range(words))
    publish(TurnFinished(0, "complete", {}))
    await publish.flushed()
    assert 0 < await client.ttl(f"{prefix}runlog:9") <= 60, "once the turn has ended its stream goes soon"


async def test_a_turn_stored_running_that_nobody_runs_is_stopped_when_the_chat_opens(
        store: Store, tmp_path: Path, redis: tuple[Redis, str]) -> None:  # noqa: F811
    """Its process died after storing the user's message, before publishing anything."""
    a = await process(store, tmp_path, redis[1])
    uid, chat = await user_with_chat(store)
    turns = await store.chats.for_user(uid).turns(chat)
    assert turns is not None
    await turns.begin(0, "lost in a crash", build_content("lost in a crash", utcnow(), [], {}, {}))
    session = await a.connect(uid, chat, FakeTab())
    assert not session.busy and session.turn_count == 1
    [turn] = await session.turns.list()
    assert (turn.status, turn.user_text) == ("stopped", "lost in a crash")
    await shut(a)

