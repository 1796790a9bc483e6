"""Usage is recorded for turns that were stopped or failed part-way, against the real OpenAI client path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pydantic_ai import models

from tests.fakes.openai_server import recorded, run_fake_openai
from tests.unit.sessions import collecting_session, fake_provider_model
from varro.agent.models import request_settings
from varro.chat.context import OVERHEAD_TOKENS
from varro.chat.events import Event, PartDelta
from varro.chat.session import ChatSession
from varro.db.crud import Store


@pytest.fixture(scope="module")
def fake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with run_fake_openai(log=tmp_path_factory.mktemp("usage") / "fake.log", hang_seconds=10) as base:
        yield base


@pytest.fixture
async def session(store: Store, tmp_path: Path, fake: str, monkeypatch: pytest.MonkeyPatch,
                  ) -> AsyncIterator[tuple[ChatSession, list[Event]]]:
    monkeypatch.setattr(models, "ALLOW_MODEL_REQUESTS", True)  # the provider is the loopback fake
    s, events = await collecting_session(store, tmp_path, fake_provider_model(fake), model_settings=request_settings(3))
    yield s, events
    await s.close()


async def stored_usage(s: ChatSession) -> tuple[str, dict]:
    [turn] = await s.turns.list()
    return turn.status, turn.content["meta"]["usage"]


async def test_a_complete_turn_records_what_the_provider_reported(session: tuple[ChatSession, list[Event]]) -> None:
    s, _ = session
    await s.send("Tell me a story")
    status, usage = await stored_usage(s)
    assert status == "complete" and usage["output_tokens"] > 10 and usage["input_tokens"] > 0
    assert not usage.get("estimated")


async def test_a_stopped_turn_records_the_tokens_it_generated(session: tuple[ChatSession, list[Event]]) -> None:
    s, events = session
    task = s.send("Tell me a long story DELAY_MS=100")
    while sum(isinstance(e, PartDelta) for e in events) < 4:
        await asyncio.sleep(0.02)
    await s.stop()
    await task
    status, usage = await stored_usage(s)
    assert status == "stopped"
    assert usage["output_tokens"] >= 4 and usage["input_tokens"] > 0 and usage["estimated"]


async def test_a_failed_turn_records_the_tokens_it_generated(session: tuple[ChatSession, list[Event]]) -> None:
    s, _ = session
    await s.send("Tell me a story FAIL_MIDSTREAM")
    status, usage = await stored_usage(s)
    assert status == "error"
    assert usage["output_tokens"] > 0 and usage["input_tokens"] > 0 and usage["estimated"]


async def test_a_turn_stopped_before_its_first_token_counts_the_prompt_processed(
        session: tuple[ChatSession, list[Event]], fake: str) -> None:
    """Stopped while the provider was still reading the prompt (it hangs before any chunk): it did that work, so
    the turn shows an estimate of it (instructions, tool schema and message included), not "0 in"."""
    s, events = session
    before = len(recorded(fake))
    task = s.send("Tell me about the weather HANG")
    while len(recorded(fake)) == before:  # the request is out; the fake sends nothing back
        await asyncio.sleep(0.02)
    await s.stop()
    await task
    status, usage = await stored_usage(s)
    assert status == "stopped" and usage["output_tokens"] == 0 and usage["estimated"]
    assert usage["input_tokens"] >= OVERHEAD_TOKENS


async def test_a_stopped_first_turn_counts_the_instructions_and_schema(session: tuple[ChatSession, list[Event]]) -> None:
    """The provider processed the instructions and the tool's schema besides the few words of the message."""
    s, events = session
    task = s.send("Hi there DELAY_MS=100")
    while not any(isinstance(e, PartDelta) for e in events):
        await asyncio.sleep(0.02)
    await s.stop()
    await task
    status, usage = await stored_usage(s)
    assert status == "stopped" and usage["estimated"]
    assert usage["input_tokens"] > s.deps.scale_of(s.model).overhead
