"""Chat titles on the answer's own provider: asked for only after the answer, capped, or not at all; the quick title
from the first message is there at once and stays when the model gives none."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic_ai import models

from tests.fakes.openai_server import recorded, run_fake_openai
from tests.unit.sessions import collecting_session, fake_provider_model
from varro.agent.title import TITLE_TOKENS
from varro.chat.events import Event, TitleChanged, TurnFinished
from varro.chat.session import ChatSession
from varro.db.crud import Store


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with run_fake_openai(log=tmp_path_factory.mktemp("titles") / "fake.log") as base:
        yield base


@pytest.fixture(autouse=True)
def allow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "ALLOW_MODEL_REQUESTS", True)  # the provider is the loopback fake


async def open_session(store: Store, tmp_path: Path, fake: str, **deps: object) -> tuple[ChatSession, list[Event]]:
    return await collecting_session(store, tmp_path, fake_provider_model(fake), with_chats=True, **deps)


def title_requests(fake: str, marker: str) -> list[dict]:
    return [b for b in recorded(fake) if not b.get("tools") and marker in str(b["messages"])]


async def test_the_model_title_waits_for_the_answer_and_is_capped(store: Store, tmp_path: Path, fake: str) -> None:
    s, events = await open_session(store, tmp_path, fake)
    before = len(title_requests(fake, "WAITS"))  # the fake serves every run of this module (each database)
    await s.send("What title suits a slow answer? DELAY_MS=40 WAITS")
    for _ in range(200):
        if sum(isinstance(e, TitleChanged) for e in events) == 2:
            break
        await asyncio.sleep(0.05)
    titles = [(i, e.title) for i, e in enumerate(events) if isinstance(e, TitleChanged)]
    finished = next(i for i, e in enumerate(events) if isinstance(e, TurnFinished))
    assert titles[0][1] == "What title suits a slow answer? DELAY_MS=40 WAITS"  # the quick one, at once
    assert titles[0][0] < finished
    assert titles[1][1].startswith("Fake chat about") and titles[1][0] > finished, "asked only once the answer is done"
    [request] = title_requests(fake, "WAITS")[before:]
    assert request.get("max_tokens", request.get("max_completion_tokens")) == TITLE_TOKENS
    await s.close()


async def test_titles_off_keeps_the_quick_title(store: Store, tmp_path: Path, fake: str) -> None:
    s, events = await open_session(store, tmp_path, fake, titles=False)
    await s.send("Which title? OFFMARK")
    await asyncio.sleep(0.5)
    assert [e.title for e in events if isinstance(e, TitleChanged)] == ["Which title? OFFMARK"]
    assert title_requests(fake, "OFFMARK") == []
    await s.close()


async def test_a_new_answer_drops_a_title_still_being_written(store: Store, tmp_path: Path, fake: str) -> None:
    s, events = await open_session(store, tmp_path, fake)
    await s.send("A title please DROPPED")
    # The title request is now out; the next answer takes the provider and the title is dropped.
    task = s.titler._model_task
    assert task is not None and not task.done()
    await s.send("And a second question")
    await asyncio.sleep(0.1)
    assert task.cancelled()
    assert [e.title for e in events if isinstance(e, TitleChanged)] == ["A title please DROPPED"]
    await s.close()


async def test_a_title_the_user_chose_during_the_answer_is_kept(store: Store, tmp_path: Path, fake: str) -> None:
    """The model's title comes after the answer: a rename in the meantime wins (it used to be overwritten)."""
    s, events = await open_session(store, tmp_path, fake)
    chats = store.chats.for_user(s.user_id)
    task = s.send("Name this later DELAY_MS=40 RENAMED")
    await asyncio.sleep(0.2)  # the quick title is there, the answer still streaming
    await chats.rename(s.chat_id, "My own title")
    await task
    await asyncio.sleep(0.5)  # room for the model's title request, which must not land
    chat = await chats.get(s.chat_id)
    assert chat is not None and chat.title == "My own title"
    assert [e.title for e in events if isinstance(e, TitleChanged)] == ["Name this later DELAY_MS=40 RENAMED"]
    await s.close()
