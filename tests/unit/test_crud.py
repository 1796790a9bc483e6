"""The data layer: scoped chats, ownership, and turn truncation."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from varro.db.crud import Store
from varro.db.models import Turn


async def two_users(store: Store) -> tuple[int, int]:
    alice, bob = await store.users.ensure("alice"), await store.users.ensure("bob")
    return alice.id, bob.id


async def test_create_rename_recent_delete(store: Store) -> None:
    alice, _ = await two_users(store)
    chats = store.chats.for_user(alice)
    first = await chats.create("First")
    second = await chats.create("Second")
    assert [c.id for c in await chats.recent()] == [second.id, first.id]
    renamed = await chats.rename(first.id, "  Renamed\n chat  ")
    assert renamed is not None and renamed.title == "Renamed chat"
    assert [c.id for c in await chats.recent()] == [first.id, second.id], "a rename makes the chat recent"
    assert await chats.delete(first.id) is True
    assert await chats.get(first.id) is None
    assert [c.id for c in await chats.recent()] == [second.id]


async def test_titles_are_one_trimmed_line(store: Store) -> None:
    alice, _ = await two_users(store)
    chat = await store.chats.for_user(alice).create("x" * 200)
    assert len(chat.title) == 80 and chat.title.endswith("…")


async def test_another_users_chat_is_not_found(store: Store) -> None:
    alice, bob = await two_users(store)
    chat = await store.chats.for_user(alice).create("Alice's")
    await (await store.chats.for_user(alice).turns(chat.id)).append(0, "secret", {"v": 1})
    as_bob = store.chats.for_user(bob)
    assert await as_bob.get(chat.id) is None
    assert await as_bob.turns(chat.id) is None
    assert await as_bob.rename(chat.id, "mine now") is None
    assert await as_bob.delete(chat.id) is False
    assert await as_bob.recent() == []
    still = await store.chats.for_user(alice).get(chat.id)
    assert still is not None and still.title == "Alice's"
    assert [t.user_text for t in await (await store.chats.for_user(alice).turns(chat.id)).list()] == ["secret"]


@pytest.mark.parametrize("cut", [0, 1, 3, 5, 9])
async def test_truncate_from_keeps_exactly_the_turns_before(store: Store, cut: int) -> None:
    alice, _ = await two_users(store)
    chats = store.chats.for_user(alice)
    chat = await chats.create()
    turns = await chats.turns(chat.id)
    for i in range(5):
        await turns.append(i, f"message {i}", {"v": 1})
    removed = await turns.truncate_from(cut)
    kept = await turns.list()
    assert [t.idx for t in kept] == list(range(min(cut, 5)))
    assert removed == max(0, 5 - cut)


async def test_truncate_leaves_other_chats_alone(store: Store) -> None:
    alice, _ = await two_users(store)
    chats = store.chats.for_user(alice)
    a, b = await chats.create(), await chats.create()
    for chat in (a, b):
        t = await chats.turns(chat.id)
        await t.append(0, "zero", {"v": 1})
        await t.append(1, "one", {"v": 1})
    await (await chats.turns(a.id)).truncate_from(0)
    assert len(await (await chats.turns(b.id)).list()) == 2


async def test_a_chat_shows_one_turn_per_index_and_keeps_its_other_versions(store: Store) -> None:
    alice, _ = await two_users(store)
    chats = store.chats.for_user(alice)
    chat = await chats.create()
    turns = await chats.turns(chat.id)
    await turns.append(0, "a", {"v": 1})
    await turns.append(0, "b", {"v": 1})  # a second version of turn 0, shown instead of the first
    assert [t.user_text for t in await turns.list()] == ["b"]
    async with store.sessions.write() as s:  # a second shown turn 0 is refused by the database itself
        s.add(Turn(chat_id=chat.id, idx=0, user_text="c", content={}, on_path=True))
        with pytest.raises(IntegrityError):
            await s.commit()
    assert await turns.switch(0, 0) and [t.user_text for t in await turns.list()] == ["a"]


async def test_deleting_a_chat_deletes_its_turns(store: Store) -> None:
    alice, _ = await two_users(store)
    chats = store.chats.for_user(alice)
    chat = await chats.create()
    turns = await chats.turns(chat.id)
    await turns.append(0, "a", {"v": 1})
    await chats.delete(chat.id)
    assert await turns.list() == []


async def test_unknown_status_is_refused(store: Store) -> None:
    alice, _ = await two_users(store)
    chats = store.chats.for_user(alice)
    turns = await chats.turns((await chats.create()).id)
    with pytest.raises(ValueError):
        await turns.append(0, "a", {"v": 1}, status="weird")


async def test_an_automatic_title_is_marked_and_a_chosen_one_is_not(store: Store) -> None:
    alice, _ = await two_users(store)
    chats = store.chats.for_user(alice)
    chat = await chats.create()
    named = await chats.rename(chat.id, "From the message", auto=True)
    assert named is not None and named.auto_title == named.title == "From the message"
    chosen = await chats.rename(chat.id, "Mine")
    assert chosen is not None and (chosen.title, chosen.auto_title) == ("Mine", "From the message")


async def test_varro_retitles_a_chat_only_while_the_user_has_not_chosen_its_title(store: Store) -> None:
    alice, bob = await two_users(store)
    chats = store.chats.for_user(alice)
    chat = await chats.create()
    assert await chats.retitle_if_auto(chat.id, "  From the\nmessage ")
    assert await chats.retitle_if_auto(chat.id, "The model's title")  # Varro's own title: replaced
    got = await chats.get(chat.id)
    assert got is not None and got.title == got.auto_title == "The model's title"
    assert not await store.chats.for_user(bob).retitle_if_auto(chat.id, "Bob's")  # not his chat
    await chats.rename(chat.id, "Mine")
    assert not await chats.retitle_if_auto(chat.id, "A late model title")
    got = await chats.get(chat.id)
    assert got is not None and (got.title, got.auto_title) == ("Mine", "The model's title")


async def test_a_turn_is_stored_when_it_starts_and_an_edit_replaces_in_one_step(store: Store) -> None:
    alice, _ = await two_users(store)
    chats = store.chats.for_user(alice)
    turns = await chats.turns((await chats.create()).id)
    for i in range(3):
        await turns.append(i, f"message {i}", {"v": 1})
    await turns.begin(1, "edited", {"v": 1})  # turns 1 and 2 go as the new message is written
    assert [(t.idx, t.user_text, t.status) for t in await turns.list(running=True)] == [
        (0, "message 0", "complete"), (1, "edited", "running")]
    assert [t.idx for t in await turns.list()] == [0], "pages show a running turn live, not from the database"
    assert await store.stop_interrupted() == 1  # start-up after a crash
    assert [(t.user_text, t.status) for t in await turns.list()] == [("message 0", "complete"), ("edited", "stopped")]
    await turns.begin(2, "next", {"v": 1})
    await turns.finish(2, {"v": 1, "done": True}, "complete")
    last = (await turns.list())[-1]
    assert (last.idx, last.status, last.content["done"]) == (2, "complete", True)


async def test_a_range_of_turns_is_read_without_the_rest(store: Store) -> None:
    """A long chat's page reads one batch: the end, the newest turns' sizes, then only the rows it shows."""
    alice, _ = await two_users(store)
    chat = await store.chats.for_user(alice).create()
    turns = await store.chats.for_user(alice).turns(chat.id)
    assert turns is not None and await turns.end() == 0 and await turns.sizes(5, 3) == []
    for k in range(6):
        await turns.append(k, f"q{k}", {"v": 1, "pad": "x" * (100 * k)})
    await turns.begin(6, "running", {"v": 1})  # being answered: not a finished turn
    assert await turns.end() == 6
    assert [t.idx for t in await turns.list(start=2, stop=5)] == [2, 3, 4]
    assert [t.idx for t in await turns.list(start=4)] == [4, 5]
    sizes = await turns.sizes(5, 3)
    assert [k for k, _ in sizes] == [4, 3, 2], "newest first, below `before`, at most `limit`"
    assert sizes[0][1] - sizes[1][1] == 100, "the stored size grows with the content"
    assert [k for k, _ in await turns.sizes(7, 10, start=4)] == [5, 4]
