"""The turn tree: whatever sequence of sends, edits, regenerations and switches, every version stays stored and
reachable, and the chat shows exactly one path (its turns 0..n-1, each the child of the one before). Plus the
revision that made turns a tree: every chat reads exactly as before it."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlmodel import select

from varro.db.crud import ChatTurns, Store
from varro.db.engine import make_engine, make_sessions
from varro.db.migrate import migrate
from varro.db.models import Turn
from varro.db.tree import Node, path_through

ops = st.lists(
    st.one_of(
        st.tuples(st.just("send"), st.integers(0, 0)),
        st.tuples(st.just("edit"), st.integers(0, 5)),
        st.tuples(st.just("regenerate"), st.integers(0, 5)),
        st.tuples(st.just("switch"), st.integers(0, 5), st.integers(0, 3)),
    ),
    min_size=1,
    max_size=14,
)


@pytest.fixture(scope="module")
def loop_and_store() -> Iterator[tuple[asyncio.AbstractEventLoop, Store]]:
    loop = asyncio.new_event_loop()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite+aiosqlite:///{tmp}/tree.db")
        loop.run_until_complete(migrate(engine))
        yield loop, Store(make_sessions(engine))
        loop.run_until_complete(engine.dispose())
    loop.close()


async def every_turn(store: Store, chat_id: int) -> list[Turn]:
    async with store.sessions() as s:
        return list(await s.exec(select(Turn).where(Turn.chat_id == chat_id).order_by(Turn.id)))


async def check_one_path(store: Store, turns: ChatTurns) -> list[Turn]:
    shown = await turns.list()
    assert [t.idx for t in shown] == list(range(len(shown)))
    assert [t.parent_id for t in shown] == [None, *(t.id for t in shown)][:len(shown)], "each follows the one before"
    flagged = [t.id for t in await every_turn(store, turns.chat_id) if t.on_path]
    assert sorted(flagged) == sorted(t.id for t in shown), "no shown turn off the path"
    return shown


async def play(store: Store, steps: list[tuple[int | str, ...]]) -> None:
    user = await store.users.ensure("tree")
    chats = store.chats.for_user(user.id)
    chat = await chats.create()
    turns = await chats.turns(chat.id)
    assert turns is not None and chat.id is not None
    made: list[int] = []
    for n, step in enumerate(steps):
        before = await turns.list()
        if step[0] == "send" or (step[0] in ("edit", "regenerate") and int(step[1]) < len(before)):
            k = len(before) if step[0] == "send" else int(step[1])
            said = before[k].user_text if step[0] == "regenerate" else f"message {n}"
            new = await turns.begin(k, said, {"v": 1})
            await turns.finish(k, {"v": 1, "n": n}, "complete")
            assert new.id is not None
            made.append(new.id)
            after = await check_one_path(store, turns)
            assert [t.id for t in after] == [t.id for t in before[:k]] + [new.id], "the new version is shown"
        elif step[0] == "switch":
            k, to = int(step[1]), int(step[2])
            versions = await turns.versions()
            switched = await turns.switch(k, to)
            current = before[k] if k < len(before) else None
            count = versions.get(current.id, (1, 1))[1] if current is not None and current.id is not None else 0
            assert switched == (to < count), "a version that exists is shown, one that doesn't changes nothing"
            after = await check_one_path(store, turns)
            if switched:
                assert [t.id for t in after[:k]] == [t.id for t in before[:k]], "turns above k stay"
                assert after[k].parent_id == before[k].parent_id, "a sibling of the turn that was shown"
                assert (await turns.versions()).get(after[k].id or 0, (1, 1))[0] == to + 1, "the version asked for"
    stored = {t.id for t in await every_turn(store, chat.id)}
    assert set(made) <= stored, "every version is kept"
    for tid in made:  # and reachable: opening it (as a search result does) shows it
        assert await turns.show(tid)
        assert tid in {t.id for t in await check_one_path(store, turns)}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=ops)
def test_every_version_stays_reachable_and_one_path_is_shown(
        loop_and_store: tuple[asyncio.AbstractEventLoop, Store], steps: list[tuple[int | str, ...]]) -> None:
    loop, store = loop_and_store
    loop.run_until_complete(play(store, steps))


async def test_switching_back_shows_the_branch_last_shown_below(store: Store) -> None:
    user = await store.users.ensure("branches")
    chats = store.chats.for_user(user.id)
    chat = await chats.create()
    turns = await chats.turns(chat.id)
    assert turns is not None
    for k, said in enumerate(["a", "b", "c"]):
        await turns.append(k, said, {"v": 1})
    await turns.append(1, "B", {"v": 1})  # an edit of turn 1: its own branch
    await turns.append(2, "C", {"v": 1})
    await turns.append(2, "C2", {"v": 1})  # a regeneration below it
    await turns.switch(2, 0)  # C, not C2, is the one last shown below B
    assert [t.user_text for t in await turns.list()] == ["a", "B", "C"]
    await turns.switch(1, 0)
    assert [t.user_text for t in await turns.list()] == ["a", "b", "c"]
    await turns.switch(1, 1)
    assert [t.user_text for t in await turns.list()] == ["a", "B", "C"], "the branch last shown there"
    shown = await turns.list()
    assert await turns.versions() == {shown[1].id: (2, 2), shown[2].id: (1, 2)}


OLD_CHATS = [
    ("INSERT INTO \"user\" (id, name) VALUES (1, 'old')", {}),
    ("INSERT INTO chat (id, user_id, title, shell_resets, created_at, updated_at) VALUES "
     "(1, 1, 'One', '[2]', '2020-01-01', '2020-01-01'), (2, 1, 'Two', '[]', '2020-01-02', '2020-01-02'), "
     "(3, 1, 'Empty', '[]', '2020-01-03', '2020-01-03')", {}),
]


async def test_the_revision_keeps_every_chat_identical(database_url: str) -> None:
    engine = make_engine(database_url)
    await migrate(engine, "0002")  # the schema before turns formed a tree, with chats in it
    async with engine.begin() as conn:
        for sql, params in OLD_CHATS:
            await conn.execute(text(sql), params)
        for chat, n in ((1, 4), (2, 2)):
            for k in range(n):
                await conn.execute(text("INSERT INTO turn (chat_id, idx, user_text, content, status, created_at) "
                                        "VALUES (:c, :k, :t, :j, 'complete', '2020-01-01')"),
                                   {"c": chat, "k": k, "t": f"chat {chat} turn {k}", "j": f'{{"v": 1, "k": {k}}}'})
        before = (await conn.execute(text("SELECT id, chat_id, idx, user_text, content, status FROM turn "
                                          "ORDER BY chat_id, idx"))).all()
    await migrate(engine)
    store = Store(make_sessions(engine))
    chats = store.chats.for_user(1)
    read: list[tuple[object, ...]] = []
    for chat in (1, 2, 3):
        turns = await chats.turns(chat)
        assert turns is not None and await turns.versions() == {}
        shown = await turns.list()
        assert [t.parent_id for t in shown] == [None, *(t.id for t in shown)][:len(shown)]
        read += [(t.id, t.chat_id, t.idx, t.user_text, t.content, t.status) for t in shown]
        assert await turns.end() == len(shown)
    assert [(r[0], r[1], r[2], r[3], r[5]) for r in before] == [(r[0], r[1], r[2], r[3], r[5]) for r in read]
    assert [json.loads(r[4]) if isinstance(r[4], str) else r[4] for r in before] == [r[4] for r in read]
    assert await (await chats.turns(1)).shell_resets() == [2]  # type: ignore[union-attr]
    assert [h.turn for h in await chats.search("chat 2 turn 1")][:1] == [1], "the search index survived the rebuild"
    turns = await chats.turns(1)
    assert turns is not None
    await turns.begin(4, "after the upgrade", {"v": 1})  # a chat goes on after the upgrade
    assert [t.idx for t in await turns.list(running=True)] == [0, 1, 2, 3, 4]
    await engine.dispose()


def test_a_path_rule_in_memory() -> None:
    nodes = [Node(1, None, 0, 2), Node(2, 1, 1), Node(3, 1, 1), Node(4, 3, 2)]
    assert path_through(nodes, 3) == ([1, 3, 4], {1: 3})
    assert path_through(nodes, 1) == ([1, 2], {}), "the remembered child, not the newest"
