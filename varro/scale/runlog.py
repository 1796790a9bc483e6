"""A running answer, reachable from every process: its events in a Redis stream, a record saying who runs it, and
a channel on which Stop reaches it.

Keys (all under the prefix, per chat, since a chat runs one turn at a time):
- `run:{chat}`: JSON `{owner, user_id, turn, user_text}` while the turn runs on process `owner`; deleted once the
  turn is stored (or failed). A record whose owner has no heartbeat (`alive:{owner}`, coordinator.py) is a run that died with it.
- `runlog:{chat}`: the turn's events (varro/chat/events.py) as JSON, started afresh by each turn. Never trimmed while
  the turn runs (a tab opening the chat on another process catches up from its first event, however long the answer:
  the model's token limit bounds it); it expires an hour after its last write, or a minute after the turn ended.
- `runs:{user}`: the chats whose `run:` record is the user's, so that the cap on runs per user counts every process's.
Channel `stops`: `[user, chat]`: the process running that chat's turn stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import TypeAdapter
from redis.asyncio import Redis
from redis.exceptions import RedisError

from varro.chat import events as ev
from varro.chat.events import Event
from varro.scale.errors import Unavailable

log = logging.getLogger(__name__)

EVENT_TYPES: dict[str, Any] = {t.__name__: t for t in Event.__args__}
FORGET = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"
EXPIRE_S = 3600  # a stream nobody writes to goes after this long
ENDED_EXPIRE_S = 60  # a finished turn's stream is read only by followers still catching up on it


@functools.cache
def adapters() -> dict[str, TypeAdapter[Any]]:
    """pydantic's (de)serialisers of the events, built once by the first `RunHub`: building them takes most of a
    second, which every process without Redis (and every test server) would otherwise spend at import."""
    return {name: TypeAdapter(t) for name, t in EVENT_TYPES.items()}


def encode(event: Event) -> bytes:
    name = type(event).__name__
    return json.dumps({"t": name, "e": adapters()[name].dump_python(event, mode="json")}).encode()


def decode(data: bytes) -> Event:
    obj = json.loads(data)
    event: Event = adapters()[obj["t"]].validate_python(obj["e"])
    return event


@dataclass(frozen=True)
class RunRecord:
    owner: str  # the process running the turn
    user_id: int
    turn: int
    user_text: str


StopHandler = Callable[[int, int], Awaitable[None]]
Stored = Callable[[], Awaitable[bool]]  # whether the followed turn is stored already (the database says)


class RunHub:
    """One process's side of the running answers: publish its own, follow and stop other processes'."""

    def __init__(self, redis: Redis, prefix: str, owner: str) -> None:
        self.redis, self.prefix, self.owner = redis, prefix, owner
        self._listener: asyncio.Task[None] | None = None
        adapters()  # at start-up, not on the event loop inside a first answer's stream

    def _record_key(self, chat_id: int) -> str:
        return f"{self.prefix}run:{chat_id}"

    def _stream_key(self, chat_id: int) -> str:
        return f"{self.prefix}runlog:{chat_id}"

    async def record(self, chat_id: int) -> RunRecord | None:
        """Who runs the chat's turn, if one runs (raises Unavailable: opening the chat now could cut that run off)."""
        try:
            raw = await self.redis.get(self._record_key(chat_id))
        except (RedisError, OSError) as e:
            raise Unavailable(f"Redis: {e}") from e
        return RunRecord(**json.loads(raw)) if raw else None

    async def alive(self, owner: str) -> bool:
        return bool(await self.redis.exists(f"{self.prefix}alive:{owner}"))

    def _runs_key(self, user_id: int) -> str:
        return f"{self.prefix}runs:{user_id}"

    async def running(self, user_id: int) -> set[int]:
        """The user's chats with a turn running on a live process, any process. A member whose record went (its
        turn ended, its last batch lost) or whose process died is dropped on the way."""
        key, found = self._runs_key(user_id), set()
        for member in await self.redis.smembers(key):
            chat_id = int(member)
            raw = await self.redis.get(self._record_key(chat_id))
            record = RunRecord(**json.loads(raw)) if raw else None
            if record is not None and record.user_id == user_id and await self.alive(record.owner):
                found.add(chat_id)
            else:
                await self.redis.srem(key, member)
        return found

    def publisher(self, user_id: int, chat_id: int) -> Publisher:
        return Publisher(self, user_id, chat_id)

    async def events(self, chat_id: int, record: RunRecord, poll_ms: int = 500,
                     stored: Stored | None = None) -> AsyncIterator[Event]:
        """The turn's events from its first, then live, until it finishes, or its process is found dead, or (asked
        whenever the stream is quiet) the database has the turn stored: the batch that said so may have been lost
        with Redis, and the record left behind would otherwise keep the turn showing as running for an hour."""
        last: Any = "0"
        key = self._stream_key(chat_id)
        while True:
            read: Any = await self.redis.xread({key: last}, count=500, block=poll_ms)
            for _, entries in read:
                for entry_id, fields in entries:
                    last = entry_id
                    event = decode(fields[b"e"])
                    yield event
                    if isinstance(event, ev.TurnFinished):
                        return
            # Quiet: the turn may have ended without finishing (a bug: the record went), with its process, or with
            # its last events lost.
            if not read and (not await self.alive(record.owner) or await self.record(chat_id) is None
                             or (stored is not None and await stored())):
                return

    async def forget(self, chat_id: int, record: RunRecord | None = None) -> None:
        """The run's record goes (its turn is stored); its stream expires by itself. With `record`: only if the key
        still holds that one (a later turn's record stays)."""
        key = self._record_key(chat_id)
        if record is None:
            await self.redis.delete(key)
        else:
            await self.redis.eval(FORGET, 1, key, json.dumps(asdict(record)))

    async def stop(self, user_id: int, chat_id: int) -> None:
        await self.redis.publish(f"{self.prefix}stops", json.dumps([user_id, chat_id]))

    async def listen(self, on_stop: StopHandler) -> None:
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(f"{self.prefix}stops")

        async def read() -> None:
            while True:
                try:
                    async for message in pubsub.listen():
                        with contextlib.suppress(Exception):
                            user_id, chat_id = json.loads(message["data"])
                            await on_stop(int(user_id), int(chat_id))
                except (RedisError, OSError) as e:
                    log.warning("lost Redis pub/sub for Stop (%s); listening again", e)
                    await asyncio.sleep(1)

        self._listener = asyncio.create_task(read())

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener


class Publisher:
    """A session's events, written to its chat's stream in order by one task, so a turn never waits on Redis."""

    def __init__(self, hub: RunHub, user_id: int, chat_id: int) -> None:
        self.hub, self.user_id, self.chat_id = hub, user_id, chat_id
        self._pending: list[Event] = []
        self._queued = self._sent = 0  # events handed to the writer, and written (or given up on)
        self._task: asyncio.Task[None] | None = None

    def __call__(self, event: Event) -> None:
        self._pending.append(event)
        self._queued += 1
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._write())

    async def flushed(self) -> None:
        """Everything emitted until now is in Redis (or was given up on); later events don't make this wait."""
        await asyncio.sleep(0)  # a turn just started gets to emit its first event
        target = self._queued
        while self._sent < target and self._task is not None and not self._task.done():
            await asyncio.sleep(0.005)

    async def _write(self) -> None:
        while self._pending:  # then the task ends; the next event starts another (no task per idle session)
            batch, self._pending = self._pending, []
            try:
                await self._send(batch)
            except (RedisError, OSError) as e:  # the turn goes on here; followers elsewhere miss these events
                log.warning("could not publish chat %s's events (%s)", self.chat_id, e)
            finally:
                self._sent += len(batch)

    async def _send(self, batch: list[Event]) -> None:
        hub, key = self.hub, self.hub._stream_key(self.chat_id)
        pipe = hub.redis.pipeline(transaction=False)
        for event in joined_deltas(batch):
            if isinstance(event, ev.TurnStarted):
                record = RunRecord(hub.owner, self.user_id, event.turn, event.user_text)
                pipe.delete(key)
                pipe.set(hub._record_key(self.chat_id), json.dumps(asdict(record)), ex=EXPIRE_S)
                pipe.sadd(hub._runs_key(self.user_id), self.chat_id)
                pipe.expire(hub._runs_key(self.user_id), EXPIRE_S)
            pipe.xadd(key, {"e": encode(event)})
            if isinstance(event, ev.TurnFinished) or isinstance(event, ev.ProgressChanged) and event.state == "done":
                pipe.delete(hub._record_key(self.chat_id))
                pipe.srem(hub._runs_key(self.user_id), self.chat_id)
        bounds = [e for e in batch if isinstance(e, ev.TurnStarted | ev.TurnFinished)]
        ended = bool(bounds) and isinstance(bounds[-1], ev.TurnFinished)
        pipe.expire(key, ENDED_EXPIRE_S if ended else EXPIRE_S)
        await pipe.execute()


def joined_deltas(batch: list[Event]) -> list[Event]:
    """The batch with each run of deltas to one part joined into one: an XADD per flush of a part, not per token."""
    out: list[Event] = []
    run: list[ev.PartDelta] = []

    def end_run() -> None:
        if run:
            first = run[0]
            out.append(ev.PartDelta(first.turn, first.node, first.part, "".join(d.text for d in run)))
            run.clear()

    for event in batch:
        if not (isinstance(event, ev.PartDelta) and (not run or (run[0].turn, run[0].node, run[0].part) == (
                event.turn, event.node, event.part))):
            end_run()
        if isinstance(event, ev.PartDelta):
            run.append(event)
        else:
            out.append(event)
    end_run()
    return out
