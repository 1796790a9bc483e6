"""Delta coalescing: bursts join into one frame per part, other events keep their order."""

from __future__ import annotations

import asyncio
import gc
import itertools

import pytest

from varro.chat.coalesce import DISPLAY_FRAME_S, LAG_SLACK_S, MAX_WINDOW_S, WIDEN, Coalescer
from varro.chat.events import Event, NodeStarted, PartDelta
from varro.chat.frame_budget import FrameBudget
from varro.config import Settings


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


class FakeTime:
    """A clock the test moves, and a sleep that ends only when the clock passes its deadline."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[tuple[float, asyncio.Future[None]]] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.sleeps.append((self.now + delay, done))
        await done

    async def advance(self, seconds: float) -> None:
        await asyncio.sleep(0)  # timers made until now start their sleep at this time
        self.now += seconds
        for _ in range(3):  # wake those past their deadline, and let them send
            await asyncio.sleep(0)
            for deadline, done in self.sleeps:
                if deadline <= self.now + 1e-9 and not done.done():
                    done.set_result(None)
            await asyncio.sleep(0)


def timed(flush_ms: float, lag: float = 0.0, budget: FrameBudget | None = None,
          t: FakeTime | None = None) -> tuple[Coalescer, FakeTime, list[tuple[float, str]]]:
    """A coalescer on a fake clock; its frames kept as (time sent, text)."""
    t = t or FakeTime()
    sent: list[tuple[float, str]] = []

    async def send(batch: list[Event]) -> None:
        sent.append((t.now, "".join(e.text for e in batch if isinstance(e, PartDelta))))

    return Coalescer(flush_ms, send, send_raw, lag=lambda: lag, budget=budget, clock=t.clock, sleep=t.sleep), t, sent


async def stream(c: Coalescer, t: FakeTime, tokens: int, every: float) -> None:
    """A token every `every` seconds, then time enough for the last frame to leave."""
    for _ in range(tokens):
        await c(PartDelta(0, 0, 0, "x"))
        await t.advance(every)
    await t.advance(MAX_WINDOW_S)
    c.close()


async def test_a_delta_after_a_quiet_spell_goes_at_once_and_later_ones_wait_for_the_window() -> None:
    c, t, sent = timed(50)
    await c(PartDelta(0, 0, 0, "a"))
    await t.advance(0)
    assert sent == [(100.0, "a")], "the first delta is not held back"
    await t.advance(0.01)
    await c(PartDelta(0, 0, 0, "b"))
    await t.advance(0.01)
    await c(PartDelta(0, 0, 0, "c"))
    await t.advance(0.029)
    assert [text for _, text in sent] == ["a"], "a delta soon after a frame waits for the window to end"
    await t.advance(0.001)
    assert [text for _, text in sent] == ["a", "bc"] and sent[1][0] - sent[0][0] == pytest.approx(0.05)
    await t.advance(1.0)  # a quiet spell: the next delta goes at once again
    await c(PartDelta(0, 0, 0, "d"))
    await t.advance(0)
    assert sent[-1] == (t.now, "d")
    c.close()


async def test_a_fast_stream_on_a_loaded_loop_sends_no_more_frames_than_a_display_paints() -> None:
    """A token a millisecond for a second, the loop a little late: about 60 frames, none closer than 16 ms."""
    c, t, sent = timed(Settings().stream_flush_ms, lag=LAG_SLACK_S * 2)
    await stream(c, t, 1000, 0.001)
    assert "".join(text for _, text in sent) == "x" * 1000
    assert len(sent) <= 62  # the first at once, then one every 16.7 ms for the second (60), then the rest
    assert min(b[0] - a[0] for a, b in itertools.pairwise(sent)) >= DISPLAY_FRAME_S - 1e-9


async def test_a_stream_at_100_tokens_a_second_on_a_loaded_loop_shares_frames() -> None:
    """A token every 10 ms is no longer a frame each once the loop lags: tokens travel two or more a frame."""
    c, t, sent = timed(Settings().stream_flush_ms, lag=LAG_SLACK_S * 2)
    await stream(c, t, 100, 0.01)
    assert "".join(text for _, text in sent) == "x" * 100
    assert len(sent) <= 55


async def test_the_window_widens_with_the_loops_lag_and_stays_bounded() -> None:
    assert timed(8, lag=LAG_SLACK_S / 2)[0].window() == pytest.approx(0.008), "a quiet loop keeps the window"
    assert timed(8, lag=LAG_SLACK_S * 1.5)[0].window() == pytest.approx(DISPLAY_FRAME_S), "a display frame at least"
    assert timed(8, lag=0.030)[0].window() == pytest.approx(0.008 + WIDEN * 0.030)
    assert timed(8, lag=5.0)[0].window() == MAX_WINDOW_S
    assert timed(500, lag=5.0)[0].window() == 0.5, "never below the configured window"


async def test_under_load_a_fast_stream_sends_fewer_fuller_frames_and_loses_nothing() -> None:
    frames = {}
    for lag in (0.0, 0.03):
        c, t, sent = timed(8, lag=lag)
        await stream(c, t, 1000, 0.001)
        assert "".join(text for _, text in sent) == "x" * 1000
        frames[lag] = len(sent)
    assert frames[0.0] >= 100, "a quiet loop sends at the configured window"
    assert frames[0.03] * 7 <= frames[0.0], frames  # an 8 + 60 ms window: under a seventh of the frames


async def test_many_streams_share_the_frame_budget_before_the_loop_lags() -> None:
    """Forty streams at 100 tokens a second on a quiet loop, a budget of 800 frames a second: each stream sends about
    20 frames a second where alone it sends a frame a token; nothing is lost, and a lone stream is as before."""
    t = FakeTime()
    budget = FrameBudget(800, clock=t.clock)
    streams = [timed(Settings().stream_flush_ms, budget=budget, t=t) for _ in range(40)]
    for _ in range(100):  # a second
        for c, _, _ in streams:
            await c(PartDelta(0, 0, 0, "x"))
        await t.advance(0.01)
    await t.advance(MAX_WINDOW_S)
    for c, _, sent in streams:
        c.close()
        assert "".join(text for _, text in sent) == "x" * 100
        assert len(sent) <= 25, len(sent)  # 40 / 800 = a 50 ms window, after the first frames
    assert sum(len(sent) for _, _, sent in streams) <= 1000
    t.now += 1.0  # the forty have gone quiet: a lone stream has the flush window again
    c, _, sent = timed(Settings().stream_flush_ms, budget=budget, t=t)
    await stream(c, t, 100, 0.01)
    assert len(sent) == 100, "a lone stream at 100 tokens a second: a frame a token"


def test_a_stream_counts_towards_the_budget_while_it_sends() -> None:
    now = [0.0]
    budget = FrameBudget(100, clock=lambda: now[0], recent_s=0.5)
    budget.sent(1)
    budget.sent(2)
    assert budget.streams() == 2 and budget.window() == pytest.approx(0.02)
    now[0] = 0.6
    budget.sent(2)  # stream 1 has been quiet for longer than recent_s: it no longer counts
    assert budget.streams() == 1
    assert FrameBudget(0).window() == 0.0, "no budget: no widening"


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
