"""Several processes on one Redis: a lease per user taken atomically, kept only by its holder, given up when the
holder dies; two registries (two processes' LiveSessions) keep one live session per user, and the old
holder's writes are refused. Runs on SQLite and PostgreSQL (the `store` fixture) and a Redis prefix of its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from tests.processes import gates, process, scale_process, shut, user_with_chat
from tests.services import REDIS_URL, redis_prefix
from tests.unit.test_live import FakeTab
from tests.waits import until, until_true
from varro.db.crud import Store
from varro.db.crud.turn import Fenced
from varro.scale.lease import Leases


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
    with pytest.raises(Fenced):  # the old session's titler, its model's title arriving late
        await stale.titler._retitle("A late title")
    assert (await store.chats.for_user(uid).get(chat)).title != "A late title"  # type: ignore[union-attr]
    await fresh.send("hi")
    stored = await (await store.chats.for_user(uid).turns(chat)).list()  # type: ignore[union-attr]
    assert [t.user_text for t in stored] == ["hi"]
    await shut(a, b)


async def test_a_dead_process_frees_its_users_and_a_live_one_keeps_them(
        store: Store, database_url: str, tmp_path: Path, redis: tuple[Redis, str]) -> None:
    _, prefix = redis
    uid, chat = await user_with_chat(store)
    keeper = await process(store, tmp_path, prefix, ttl_s=0.3)
    leases = Leases(Redis.from_url(REDIS_URL), prefix, "", 1)
    other = (await store.users.ensure("v")).id
    other_chat = (await store.chats.for_user(other).create()).id
    async with scale_process(database_url, prefix, 0.3, tmp_path) as dying:
        await keeper.connect(uid, chat, FakeTab())
        await dying.ask(f"connect {other} {other_chat}", "connected")
        assert await leases.holder(other) is not None
        dying.kill()

        async def freed() -> bool:
            return await leases.holder(other) is None

        await until_true(freed, "the killed process's user to be free", within_s=10)
    assert (await leases.holder(uid) or "").startswith(keeper.coordinator.owner), (  # type: ignore[attr-defined]
        "renewed all along by the live process, many TTLs later")
    await shut(keeper)


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
        store: Store, database_url: str, tmp_path: Path, redis: tuple[Redis, str]) -> None:
    _, prefix = redis
    uid, chat = await user_with_chat(store)
    alive = await process(store, tmp_path, prefix)
    async with scale_process(database_url, prefix, 0.6, tmp_path) as dead:
        await dead.ask(f"connect {uid} {chat}", "connected")
        dead.kill()  # no heartbeat any more, and no answer to the next claim
        started = asyncio.get_running_loop().time()
        await alive.connect(uid, chat, FakeTab())
        assert asyncio.get_running_loop().time() - started < 10, "no longer than the dead process's heartbeat lasts"
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


async def test_a_run_left_without_a_tab_gives_the_user_s_lease_up_when_it_ends(
        store: Store, tmp_path: Path, redis: tuple[Redis, str]) -> None:
    _, prefix = redis
    a = await process(store, tmp_path, prefix)
    uid, chat = await user_with_chat(store)
    leases = Leases(Redis.from_url(REDIS_URL), prefix, "", 1)
    tab = FakeTab()
    running = await a.connect(uid, chat, tab)
    await a.attach(uid, tab, 0)
    running.send("/stream 5 until held")
    await until(lambda: len(tab.events) > 5, "the answer to stream")
    await a.disconnect(uid, tab)
    assert running.busy and (await leases.holder(uid) or "").startswith(a.coordinator.owner), (  # type: ignore[attr-defined]
        "while its run goes on the user stays here: another process's claim waits for the run's end")
    gates(tmp_path).open("held")
    await running.finished()
    await until(lambda: len(a.runs) == 0, "the finished run to be closed")

    async def given_up() -> bool:
        return await leases.holder(uid) is None

    await until_true(given_up, "the lease to be given up: nothing of the user's runs here any more")
    assert a.coordinator.fence(uid) is None
    await shut(a)
