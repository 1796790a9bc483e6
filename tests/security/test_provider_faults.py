"""A misbehaving provider (the loopback OpenAI-compatible fake): retried where that is safe, otherwise a clear
error block within a bounded time; the input unlocks, nothing is left "running", no text is duplicated.

Retries are the provider SDK's (2, honouring Retry-After) and happen only before a response starts streaming;
VARRO_MODEL_TIMEOUT_S bounds a silent provider, before the first output and between chunks.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel

from tests.e2e.conftest import wait_socket
from tests.e2e.helpers import send
from tests.e2e.server import Server, run_server
from tests.fakes.openai_server import recorded, run_fake_openai, text_of
from tests.kernels import shared_client
from tests.security.client import Tab, stored_turns
from varro.agent.models import request_settings
from varro.chat.events import Event, PartDelta, PartStarted, TurnFailed
from varro.chat.session import ChatSession, SessionDeps
from varro.db.crud import Store
from varro.uploads import UploadStore

TIMEOUT_S = 3
ANSWER_HEAD = "Answer from the fake provider"


@dataclass
class Provider:
    fake: str
    app: Server


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    data = tmp_path_factory.mktemp("faults")
    with run_fake_openai(log=data / "fake.log", hang_seconds=30) as fake, run_server(
        data, VARRO_MODEL="openai:fake-model", OPENAI_BASE_URL=fake, OPENAI_API_KEY="test-key",
        VARRO_MODEL_TIMEOUT_S=str(TIMEOUT_S),
    ) as app:
        yield Provider(fake, app)


async def test_the_timeout_reaches_every_model_request(store: Store, tmp_path: Path) -> None:
    seen: list[dict] = []

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        seen.append(dict(info.model_settings or {}))
        yield "ok"

    user = await store.users.ensure("u")
    chats = store.chats.for_user(user.id)
    chat = await chats.create()
    deps = SessionDeps(FunctionModel(stream_function=stream), UploadStore(tmp_path), shared_client(),
                       model_settings=request_settings(7), first_event_s=7)
    session = ChatSession(user.id, chat.id, await chats.turns(chat.id), deps)
    await session.send("hi")
    assert seen and seen[0]["timeout"] == 7


async def answer_of(store: Store, tmp_path: Path, stream: Any, first_event_s: float) -> tuple[str, list[Event]]:
    """A turn of a model streaming with `stream`, bounded by `first_event_s`: its stored status and its events."""
    user = await store.users.ensure("u")
    chats = store.chats.for_user(user.id)
    chat = await chats.create()
    deps = SessionDeps(FunctionModel(stream_function=stream), UploadStore(tmp_path), shared_client(),
                       first_event_s=first_event_s)
    session = ChatSession(user.id, chat.id, await chats.turns(chat.id), deps)
    events: list[Event] = []

    async def sink(event: Event) -> None:
        events.append(event)

    session.sink = sink
    await session.send("hi")
    [turn] = await (await chats.turns(chat.id)).list()
    return turn.status, events


async def test_a_model_silent_before_its_first_output_is_a_timeout_that_says_so(store: Store, tmp_path: Path) -> None:
    async def silent(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        await asyncio.sleep(3600)
        yield "never"

    started = time.monotonic()
    status, events = await answer_of(store, tmp_path, silent, first_event_s=0.5)
    assert status == "error" and time.monotonic() - started < 30
    [failed] = [e for e in events if isinstance(e, TurnFailed)]
    assert "did not answer within 0.5 s" in failed.message


async def test_an_answer_that_keeps_coming_is_not_cut_by_the_first_output_timeout(store: Store, tmp_path: Path) -> None:
    """The first-output bound is not a bound on the answer: this one takes three times as long, and ends whole."""
    async def slow(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        for i in range(15):
            yield f"w{i} "
            await asyncio.sleep(0.1)

    status, events = await answer_of(store, tmp_path, slow, first_event_s=0.5)
    assert status == "complete"
    shown = "".join(e.content if isinstance(e, PartStarted) else e.text for e in events
                    if isinstance(e, PartStarted | PartDelta))
    assert shown == "".join(f"w{i} " for i in range(15))


def attempts(provider: Provider, prompt: str) -> int:
    """How many streamed requests for this prompt reached the provider."""
    return sum(1 for b in recorded(provider.fake)
               if b.get("stream") and text_of([m for m in b["messages"] if m["role"] == "user"][-1]["content"]) == prompt)


def texts_of(turn: dict) -> list[str]:
    return [p["content"] for m in turn["content"]["assistant"]["messages"] for p in m["parts"] if p["part_kind"] == "text"]


CASES = [
    # marker, status, attempts, seconds at most, what the error says
    ("FLAKY_500_THEN_OK:2", "complete", 3, 10, None),
    # The provider's own words are shown, and a hang is a timeout, not a failed connection.
    ("HTTP_429", "error", 3, 10, "rate limiting us (HTTP 429): “Rate limit reached for fake-model"),
    ("HTTP_500", "error", 3, 10, "(HTTP 500): “The server had an error while processing your request”"),
    ("FAIL_MIDSTREAM", "error", 1, 5, "broke off"),
    ("HANG", "error", None, TIMEOUT_S + 5, "did not answer"),
    ("HANG_MIDSTREAM", "error", 1, TIMEOUT_S + 5, "did not answer"),
]


@pytest.mark.parametrize(("marker", "status", "tries", "within", "says"), CASES, ids=[c[0] for c in CASES])
async def test_provider_fault(provider: Provider, marker: str, status: str, tries: int | None, within: float,
                              says: str | None) -> None:
    tab = Tab(provider.app.url, "")
    await tab.sign_in()
    await tab.open()
    prompt = f"Tell me about faults {marker}"
    started = time.monotonic()
    await tab.send(prompt)
    assert await tab.wait_turn(0, within + 10) == status
    elapsed, made = time.monotonic() - started, attempts(provider, prompt)
    print(f"\n{marker}: {status} after {elapsed:.1f} s and {made} attempt(s)")
    assert elapsed < within
    if tries is not None:
        assert made == tries
    frames = "".join(tab.frames)
    [turn] = stored_turns(provider.app.db_path, tab.chat_id)
    assert turn["status"] == status
    if says is None:
        assert texts_of(turn)[-1].count(ANSWER_HEAD) == 1 and frames.count(f"<h2>{ANSWER_HEAD}</h2>") == 1
    else:
        alert = re.search(r'role="alert"[^>]*>.*?<span>([^<]*)</span>', frames)
        assert alert and says in alert[1], frames[-800:]
        assert says in turn["content"]["meta"]["error"]
        # Whatever streamed before the fault is there once: no retry appended a second copy.
        assert frames.count("You asked") <= 1 and all(t.count(ANSWER_HEAD) <= 1 for t in texts_of(turn))
    # Unlocked, never left "running": the last word on progress is "done", and the next message is answered.
    assert re.findall(r'data-running="(\w+)"', frames)[-1] == "false"
    await tab.send("Are you still there?")
    assert await tab.wait_turn(1, 30) == "complete"
    await tab.close()


def test_a_hung_provider_unlocks_the_page(page: Page, provider: Provider) -> None:
    page.goto(f"{provider.app.url}/chat")
    with page.expect_navigation():
        page.get_by_test_id("new-chat").click()
    wait_socket(page)
    send(page, "Please HANG for a while")
    expect(page.locator("#progress")).to_have_attribute("data-running", "true")
    expect(page.locator("#assistant-0 [role=alert]")).to_contain_text("did not answer", timeout=(TIMEOUT_S + 10) * 1000)
    expect(page.locator("#progress")).to_have_attribute("data-running", "false")
    expect(page.get_by_test_id("send")).to_be_enabled()
    expect(page.locator("#meta-0")).to_have_attribute("data-status", "error")
