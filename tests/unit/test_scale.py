"""Several processes on one Redis: a lease per user taken atomically, kept only by its holder, given up when the
holder dies; two registries (two processes' LiveSessions) keep one live session per user, and the old
holder's writes are refused. Runs on SQLite and PostgreSQL (the `store` fixture) and a Redis prefix of its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.services import REDIS_URL, redis_prefix
from tests.unit.test_live import FakeTab, slow_words
from tests.waits import until
from varro.chat.live import LiveSessions
from varro.chat.opening import open_chat
from varro.chat.session import ChatSession, SessionDeps
from varro.db.crud import Store
from varro.db.crud.turn import Fenced
from varro.scale.coordinator import RedisCoordinator
from varro.scale.lease import Leases
from varro.uploads import UploadStore


@pytest.fixture
async def redis() -> AsyncIterator[tuple[Redis, str]]:
    async with redis_prefix() as client_prefix:
        yield client_prefix


async def test_a_lease_goes_to_the_newest_taker_and_only_its_holder_renews_or_releases_it(
        redis: tuple[Redis, str]) -> None:
    client, prefix = redis
    a, b = Leases(client, prefix, "A", 5), Leases(client, prefix, "B", 5)
    old = await a.take(7)
    new = await b.take(7)
    assert new.epoch > old.epoch and await a.holder(7) == f"B:{new.epoch}"
    assert not await a.renew(old) and not await a.release(old), "the old holder can neither keep nor drop it"
    assert await a.holder(7) == f"B:{new.epoch}"
    assert await b.renew(new) and await b.release(new)
    assert await a.holder(7) is None


async def test_takes_at_once_get_distinct_epochs_and_the_last_one_holds(redis: tuple[Redis, str]) -> None:
    client, prefix = redis
    takers = [Leases(client, prefix, f"p{i}", 5) for i in range(20)]
    leases = await asyncio.gather(*(t.take(1) for t in takers))
    assert len({lease.epoch for lease in leases}) == 20
    newest = max(leases, key=lambda lease: lease.epoch)
    assert await takers[0].holder(1) == newest.token


async def test_a_lease_nobody_renews_expires(redis: tuple[Redis, str]) -> None:
    client, prefix = redis
    leases = Leases(client, prefix, "A", 0.2)
    await leases.take(3)
    await asyncio.sleep(0.5)
    assert await leases.holder(3) is None, "a process that died gives its users up within one TTL"


async def process(store: Store, tmp_path: Path, prefix: str, ttl_s: float = 5.0, words: int = 5) -> LiveSessions:
    """One process's registry: its own coordinator on the shared Redis, the shared database."""
    coordinator = RedisCoordinator(Redis.from_url(REDIS_URL), prefix, ttl_s)
    deps = SessionDeps(model=slow_words(words, 0.01), uploads=UploadStore(tmp_path / "up"),
                       make_kernel=lambda u, c: lambda: None)  # type: ignore[arg-type,return-value]

    async def open_session(user_id: int, chat_id: int) -> ChatSession:
        return await open_chat(store.chats.for_user(user_id, fence=coordinator.fence(user_id)), chat_id, deps,
                               coordinator.runs)

    live = LiveSessions(open_session, 5.0, coordinator=coordinator)
    await coordinator.start(live.evict)
    await coordinator.runs.listen(live.stop_run)
    return live


async def user_with_chat(store: Store) -> tuple[int, int]:
    uid = (await store.users.ensure("u")).id
    return uid, (await store.chats.for_user(uid).create()).id


async def shut(*lives: LiveSessions) -> None:
    for live in lives:
        await live.close_all()
        await live.coordinator.close()


async def test_a_tab_on_another_process_replaces_the_first_whose_writes_are_then_refused(
        store: Store, tmp_path: Path, redis: tuple[Redis, str]) -> None:
    _, prefix = redis
    a, b = await process(store, tmp_path, prefix), await process(store, tmp_path, prefix)
    uid, chat = await user_with_chat(store)
    tab_a, tab_b = FakeTab(), FakeTab()
    stale = await a.connect(uid, chat, tab_a)
    await a.attach(uid, tab_a, 0)
    fresh = await b.connect(uid, chat, tab_b)
    await b.attach(uid, tab_b, 0)
    await until(lambda: tab_a.was_replaced, "the first tab to be told it was replaced")
    assert len(a) == 0 and len(b) == 1, "one live session for the user, on the newest tab's process"
    assert a.coordinator.fence(uid) is None
    holder = await Leases(Redis.from_url(REDIS_URL), prefix, "", 1).holder(uid)
    assert holder is not None and holder.startswith(b.coordinator.owner)  # type: ignore[attr-defined]
    with pytest.raises(Fenced):
        await stale.turns.append(0, "a late write from the old process", {"v": 1})
    await fresh.send("hi")
    stored = await (await store.chats.for_user(uid).turns(chat)).list()  # type: ignore[union-attr]
    assert [t.user_text for t in stored] == ["hi"]
    await shut(a, b)


async def test_a_dead_process_frees_its_users_and_a_live_one_keeps_them(
        store: Store, tmp_path: Path, redis: tuple[Redis, str]) -> None:
    _, prefix = redis
    uid, chat = await user_with_chat(store)
    keeper, dying = await process(store, tmp_path, prefix, ttl_s=0.3), await process(store, tmp_path, prefix, 0.3)
    leases = Leases(Redis.from_url(REDIS_URL), prefix, "", 1)
    await keeper.connect(uid, chat, FakeTab())
    await asyncio.sleep(1.0)  # three TTLs: renewed all along
    assert (await leases.holder(uid) or "").startswith(keeper.coordinator.owner)  # type: ignore[attr-defined]
    other = (await store.users.ensure("v")).id
    await dying.connect(other, (await store.chats.for_user(other).create()).id, FakeTab())
    coordinator = dying.coordinator
    assert isinstance(coordinator, RedisCoordinator)
    coordinator._held.clear()  # as if killed: no renewal, no release
    await asyncio.sleep(0.8)
    assert await leases.holder(other) is None
    await shut(keeper, dying)


async def test_a_lease_lost_with_redis_s_data_comes_back_to_its_holder_unless_taken(redis: tuple[Redis, str]) -> None:
    client, prefix = redis
    a, b = Leases(client, prefix, "A", 5), Leases(client, prefix, "B", 5)
    lease = await a.take(4)
    await client.delete(*a.keys(4))  # Redis restarted empty
    assert await a.renew(lease) and await a.holder(4) == lease.token
    assert (await b.take(4)).epoch > lease.epoch, "epochs keep rising past what the database has seen"
    await client.delete(a.key(4))
    assert not await a.renew(lease), "taken since: the old holder can't take it back"


async def test_a_claim_from_a_dead_process_does_not_wait_for_it(
        store: Store, tmp_path: Path, redis: tuple[Redis, str]) -> None:
    _, prefix = redis
    uid, chat = await user_with_chat(store)
    dead, alive = await process(store, tmp_path, prefix, ttl_s=0.6), await process(store, tmp_path, prefix)
    await dead.connect(uid, chat, FakeTab())
    coordinator = dead.coordinator
    assert isinstance(coordinator, RedisCoordinator) and coordinator._renewer is not None
    coordinator._renewer.cancel()  # as if killed: no heartbeat, no answer to the next claim
    await coordinator.bus.close()
    started = asyncio.get_running_loop().time()
    await alive.connect(uid, chat, FakeTab())
    assert asyncio.get_running_loop().time() - started < 3, "no longer than the dead process's heartbeat lasts"
    await shut(alive)


async def test_two_processes_claiming_one_user_at_once_do_not_wait_for_each_other(
        store: Store, tmp_path: Path, redis: tuple[Redis, str]) -> None:
    _, prefix = redis
    uid, chat = await user_with_chat(store)
    a, b = await process(store, tmp_path, prefix), await process(store, tmp_path, prefix)
    await b.connect(uid, chat, FakeTab())  # B has the user
    busy = b._lock(uid)  # B is in the middle of a connect of its own for the user: its evict must queue behind it
    await busy.acquire()
    to_a = asyncio.create_task(a.connect(uid, chat, FakeTab()))  # A claims, and waits for B to end its session
    await until(lambda: b.coordinator.fence(uid) is None, "B to learn A took the user")
    started = asyncio.get_running_loop().time()
    await b.coordinator.claim(uid)  # ... while B's connect claims it back, waiting in turn for A
    assert asyncio.get_running_loop().time() - started < 10, "A gave way instead of both waiting out the handover"
    busy.release()
    await to_a
    await until(lambda: len(a) == 0, "A's session, the older claim, to be ended")
    await shut(a, b)
