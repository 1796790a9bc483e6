"""Chat titles on the answer's own provider: asked for only after the answer, capped, or not at all; the quick title
from the first message is there at once and stays when the model gives none."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pydantic_ai import models

from tests.fakes.openai_server import recorded, run_fake_openai
from tests.unit.sessions import collecting_session, fake_provider_model
from varro.agent.demo import demo_model
from varro.agent.title import TITLE_TOKENS, model_title, quick_title
from varro.chat.events import Event, PartDelta, PartStarted, TitleChanged, TurnFailed, TurnFinished
from varro.chat.session import ChatSession
from varro.chat.titles import IDLE_S
from varro.db.crud import Store


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with run_fake_openai(log=tmp_path_factory.mktemp("titles") / "fake.log") as base:
        yield base


@pytest.fixture(autouse=True)
def allow(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(models, "ALLOW_MODEL_REQUESTS", True)  # the provider is the loopback fake


async def open_session(store: Store, tmp_path: Path, fake: str, idle_s: float = 0,
                       **deps: object) -> tuple[ChatSession, list[Event]]:
    s, events = await collecting_session(store, tmp_path, fake_provider_model(fake), with_chats=True, **deps)
    s.titler.idle_s = idle_s  # asked at once after the answer, unless a test says otherwise
    return s, events


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
    assert request["stream"] is True, "streamed: a cancel closes the connection and the server stops writing it"
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


async def wait_for(check: Callable[[], bool], seconds: float = 10) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("never happened")


async def test_after_a_stop_the_title_waits_for_the_next_complete_answer(store: Store, tmp_path: Path, fake: str) -> None:
    """A stop during a slow answer leaves the server busy with it for a while: no title request queues behind it."""
    s, events = await open_session(store, tmp_path, fake)
    marker = f"STOPPED{uuid.uuid4().hex}"  # the fake serves the module's runs on either database
    task = s.send(f"Tell me slowly DELAY_MS=100 {marker}")
    await wait_for(lambda: any(isinstance(e, PartDelta) for e in events))
    await s.stop()
    await task
    await asyncio.sleep(0.5)
    assert [e.status for e in events if isinstance(e, TurnFinished)] == ["stopped"]
    assert title_requests(fake, marker) == []
    await s.send("Now quickly")
    await s.wait()
    await wait_for(lambda: len(title_requests(fake, marker)) == 1)
    await wait_for(lambda: sum(isinstance(e, TitleChanged) for e in events) == 2)
    await s.close()


async def test_a_message_refused_as_too_long_gets_no_model_title(store: Store, tmp_path: Path, fake: str) -> None:
    s, events = await open_session(store, tmp_path, fake, context_tokens=1000, max_tokens=100)
    marker = f"REFUSED{uuid.uuid4().hex}"
    await s.send(f"{marker} " + "word " * 4000)
    await s.wait()
    assert any(isinstance(e, TurnFailed) for e in events)
    await s.send("A short one")
    await s.wait()
    await asyncio.sleep(0.5)
    assert title_requests(fake, marker) == []
    await s.close()


async def test_a_model_title_loses_its_chat_template_tokens(store: Store, tmp_path: Path, fake: str) -> None:
    """A small model's title ran on into the next turn of its template: only the title stays."""
    s, events = await open_session(store, tmp_path, fake)
    await s.send("ECHO\n**Write** a short story about a dog.<|im_end|> <|im_start|>story Write a")
    await wait_for(lambda: sum(isinstance(e, TitleChanged) for e in events) == 2)
    assert [e.title for e in events if isinstance(e, TitleChanged)][-1] == "Write a short story about a dog"
    await s.close()


@pytest.mark.parametrize(("message", "title"), [
    ("Load the data please\n```python\nimport pandas as pd\ndf = pd.read_csv('sales.csv')\n```", "Load the data please"),
    ("Solve $x_1^2 + \\frac{a}{b} = \\alpha$ for x_1", "Solve x_1^2 + a/b = α for x_1"),
    ("**Why** does `df.groupby` drop NaN keys?", "Why does df.groupby drop NaN keys?"),
])
def test_the_quick_title_reads_as_text(message: str, title: str) -> None:
    assert quick_title(message) == title


async def test_the_demo_models_title_is_about_the_prose_not_the_code() -> None:
    message = "Load the data please\n```python\nimport pandas as pd\ndf = pd.read_csv('sales.csv')\n```"
    assert await model_title(demo_model(tps=0), message) == "Load the data please"


async def test_a_message_sent_right_after_an_answer_finds_the_provider_free(store: Store, tmp_path: Path,
                                                                          fake: str) -> None:
    """The title waits a moment after the answer: a follow-up sent at once drops it before any request is made, so
    the provider never has a title to notice was cancelled while the answer waits."""
    s, events = await open_session(store, tmp_path, fake, idle_s=IDLE_S)
    marker = f"FOLLOWUP{uuid.uuid4().hex}"
    await s.send(f"First question {marker}")
    await s.send("A follow-up at once")
    await s.wait()
    await asyncio.sleep(IDLE_S + 0.5)
    assert title_requests(fake, marker) == []
    await s.close()


async def test_the_quick_title_follows_the_answers_first_output(store: Store, tmp_path: Path, fake: str) -> None:
    """On the page a new title costs a header swap and a sidebar refresh: it must not land before the first words."""
    s, events = await open_session(store, tmp_path, fake)
    s.titler.hold_s = 30  # only the answer's output lets it go here
    await s.send("Which comes first? FIRSTWORDS")
    await s.wait()
    await wait_for(lambda: any(isinstance(e, TitleChanged) for e in events))
    started = next(i for i, e in enumerate(events) if isinstance(e, PartStarted))
    titled = next(i for i, e in enumerate(events) if isinstance(e, TitleChanged))
    assert started < titled, [type(e).__name__ for e in events]
    assert events[titled].title == "Which comes first? FIRSTWORDS"
    await s.close()


async def test_a_model_slow_to_start_does_not_hold_the_quick_title_back(store: Store, tmp_path: Path,
                                                                       fake: str) -> None:
    s, events = await open_session(store, tmp_path, fake)
    s.titler.hold_s = 0.05
    await s.send("Anyone there? HANG")  # the provider stays silent until the session stops it
    await wait_for(lambda: any(isinstance(e, TitleChanged) for e in events))
    assert not any(isinstance(e, PartStarted) for e in events), "the title came while the model was still silent"
    await s.stop()
    await s.close()
