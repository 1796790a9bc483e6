"""Delta coalescing: bursts join into one frame per part, other events keep their order."""

from __future__ import annotations

import asyncio
import gc

import pytest

from varro.chat.coalesce import Coalescer
from varro.chat.events import Event, NodeStarted, PartDelta


async def send_raw(frame: str) -> None:
    raise AssertionError("no raw frames in these tests")


def recording(flush_ms: float) -> tuple[Coalescer, list[list[Event]]]:
    """A coalescer whose batches are kept, in the order they were sent."""
    batches: list[list[Event]] = []

    async def send(batch: list[Event]) -> None:
        batches.append(batch)

    return Coalescer(flush_ms, send, send_raw), batches


async def test_zero_flush_sends_every_delta_alone() -> None:
    c, batches = recording(0)
    for ch in "abc":
        await c(PartDelta(0, 0, 0, ch))
    assert [[e.text for e in b] for b in batches] == [["a"], ["b"], ["c"]]


async def test_deltas_within_the_window_travel_together() -> None:
    c, batches = recording(20)
    for ch in "hello":
        await c(PartDelta(0, 0, 1, ch))
    await c(PartDelta(0, 0, 2, "!"))
    await asyncio.sleep(0.06)
    assert len(batches) == 1
    assert [(e.part, e.text) for e in batches[0]] == [(1, "hello"), (2, "!")]


async def test_other_events_flush_pending_deltas_first() -> None:
    c, batches = recording(1000)
    await c(PartDelta(0, 0, 0, "tail"))
    await c(NodeStarted(0, 1))
    assert len(batches) == 1
    assert isinstance(batches[0][0], PartDelta) and batches[0][0].text == "tail"
    assert isinstance(batches[0][1], NodeStarted)
    await asyncio.sleep(0)
    c.close()


async def test_a_delta_after_a_quiet_spell_goes_at_once_and_later_ones_wait_for_the_window() -> None:
    sent: list[tuple[float, str]] = []

    async def send(batch: list[Event]) -> None:
        sent.append((asyncio.get_running_loop().time(), "".join(e.text for e in batch)))

    c = Coalescer(50, send, send_raw)
    start = asyncio.get_running_loop().time()
    await c(PartDelta(0, 0, 0, "a"))
    await asyncio.sleep(0.01)
    assert [text for _, text in sent] == ["a"] and sent[0][0] - start < 0.03, "the first delta is not held back"
    await c(PartDelta(0, 0, 0, "b"))
    await asyncio.sleep(0.01)
    await c(PartDelta(0, 0, 0, "c"))
    await asyncio.sleep(0.02)
    assert [text for _, text in sent] == ["a"], "a delta soon after a frame waits for the window to end"
    await asyncio.sleep(0.05)
    assert [text for _, text in sent] == ["a", "bc"] and sent[1][0] - sent[0][0] >= 0.045
    c.close()



async def test_a_failed_send_in_the_timer_is_raised_to_the_next_caller_not_lost_in_the_task() -> None:
    unretrieved: list[dict[str, object]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, context: unretrieved.append(context))

    async def send(batch: list[Event]) -> None:
        raise ConnectionError("socket gone")

    c = Coalescer(10, send, send_raw)
    await c(PartDelta(0, 0, 0, "a"))  # deltas leave from a timer task
    timer = c._timer
    assert timer is not None
    await asyncio.wait_for(timer, 1)  # the task itself ends without an exception
    with pytest.raises(ConnectionError):
        await c(PartDelta(0, 0, 0, "b"))
    del timer
    gc.collect()
    assert unretrieved == [], "no 'Task exception was never retrieved'"
