"""Search over chats (SQLite FTS5 kept by triggers): scoped to the user, safe from query syntax, never stale."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from varro.db.crud import Store


def answer(text: str) -> dict[str, Any]:
    parts = [{"part_kind": "text", "content": text}, {"part_kind": "tool-call", "tool_name": "run_python",
                                                      "args": {"code": "secret_code_word = 1"}}]
    return {"v": 1, "assistant": {"messages": [{"kind": "response", "parts": parts}], "attachments": {}}}


async def test_titles_messages_and_answers_match_for_their_owner_only(store: Store) -> None:
    alice, bob = await store.users.ensure("alice"), await store.users.ensure("bob")
    chats = store.chats.for_user(alice.id)
    chat = await chats.create("Rivers of Europe")
    turns = await chats.turns(chat.id)
    await turns.append(0, "Tell me about the Danube", answer("It flows through Vienna"))
    await turns.append(1, "And glaciers?", answer("Glaciers carve valleys"))
    assert [(h.chat_id, h.turn) for h in await chats.search("rivers")] == [(chat.id, None)]
    assert [(h.chat_id, h.turn) for h in await chats.search("danu")] == [(chat.id, 0)]  # a prefix, as one types
    hit = (await chats.search("valleys"))[0]
    assert (hit.turn, "valleys" in hit.snippet) == (1, True), "answer text, with a snippet"
    assert await chats.search("secret_code_word") == [], "tool code is not message text"
    assert await store.chats.for_user(bob.id).search("danube") == []
    assert await chats.search('" OR * NEAR(') == [] and await chats.search("   ") == []


async def test_the_index_follows_edits_and_deletes(store: Store) -> None:
    alice = await store.users.ensure("alice")
    chats = store.chats.for_user(alice.id)
    chat = await chats.create("")
    turns = await chats.turns(chat.id)
    await turns.append(0, "Tell me about volcanoes", answer("Lava"))
    await turns.truncate_from(0)
    assert await chats.search("volcanoes") == []
    await turns.append(0, "Tell me about deserts", answer("Sand"))
    assert [h.turn for h in await chats.search("sand")] == [0]
    await chats.delete(chat.id)
    assert await chats.search("deserts") == []


async def test_text_on_a_branch_not_shown_is_found_and_opening_it_shows_that_branch(store: Store) -> None:
    alice = await store.users.ensure("alice")
    chats = store.chats.for_user(alice.id)
    chat = await chats.create("")
    turns = await chats.turns(chat.id)
    assert turns is not None
    await turns.append(0, "Tell me about the Rhine", answer("It flows north"))
    await turns.append(1, "And its delta?", answer("Rotterdam sits on it"))
    await turns.append(0, "Tell me about the Loire", answer("Chateaux line it"))  # an edit: a new version
    [hit] = await chats.search("rotterdam")
    assert hit.turn == 1 and hit.turn_id is not None, "found on the branch the chat no longer shows"
    assert await turns.show(hit.turn_id)
    assert [t.user_text for t in await turns.list()] == ["Tell me about the Rhine", "And its delta?"]


async def _entry(store: Store, turn_id: int, rewrite: str | None = None) -> str:
    """The search entry's text for a turn; with `rewrite`, set by hand first (what the index alone holds)."""
    async with store.sessions.write() as s:
        conn = await s.connection()
        key = "rowid" if conn.dialect.name == "sqlite" else "turn_id"
        if rewrite is not None:
            doc = "" if conn.dialect.name == "sqlite" else ", doc = to_tsvector('simple', :body)"
            await conn.execute(text(f"UPDATE turn_fts SET body = :body{doc} WHERE {key} = :id"),
                               {"body": rewrite, "id": turn_id})
            await s.commit()
            conn = await s.connection()
        return str((await conn.execute(text(f"SELECT body FROM turn_fts WHERE {key} = :id"), {"id": turn_id})).scalar())


async def test_a_turn_is_indexed_again_only_when_its_text_changes(store: Store) -> None:
    """A next message links the turn before it, an edit takes turns off the shown path: neither rewrites their
    entries (each message re-indexed the whole answer before it). A turn's end, which writes its answer, does."""
    alice = await store.users.ensure("alice")
    chats = store.chats.for_user(alice.id)
    chat = await chats.create("")
    turns = await chats.turns(chat.id)
    first = await turns.append(0, "Tell me about the Rhine", answer("It flows north"))
    assert first.id is not None
    await _entry(store, first.id, rewrite="untouched")  # a rewrite by the index's trigger would bring the text back
    second = await turns.begin(1, "And its delta?", answer(""))
    await turns.append(0, "Tell me about the Loire", answer("Chateaux line it"))  # an edit: 0 and 1 leave the path
    assert await _entry(store, first.id) == "untouched"
    assert second.id is not None
    await _entry(store, second.id, rewrite="untouched")
    async with store.sessions.write() as s:  # the answer to the earlier branch's turn 1 is written when it ends
        await s.exec(text("UPDATE turn SET content = :c WHERE id = :id"),  # type: ignore[call-overload]
                     params={"c": json.dumps(answer("Rotterdam sits on it")), "id": second.id})
        await s.commit()
    assert "Rotterdam" in await _entry(store, second.id)
