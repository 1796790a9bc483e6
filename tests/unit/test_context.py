"""The history sent to the model stays within VARRO_CONTEXT_TOKENS: oldest turns are left out, the user is told once,
and a message that cannot fit is refused before anything is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from pydantic_ai.messages import ModelMessage, ModelRequest, UserPromptPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from tests.unit.sessions import collecting_session
from varro.chat.context import CHARS_PER_TOKEN, OVERHEAD_TOKENS
from varro.chat.events import Event, Notice, TurnFailed
from varro.chat.session import ChatSession
from varro.chat.usage import chars_of
from varro.db.crud import Store

WINDOW = 1024
ANSWER = 100


def prompts(messages: list[ModelMessage]) -> list[str]:
    return [p.content for m in messages if isinstance(m, ModelRequest) for p in m.parts
            if isinstance(p, UserPromptPart) and isinstance(p.content, str)]


async def session_with(store: Store, tmp_path: Path, seen: list[list[ModelMessage]]) -> tuple[ChatSession, list[Event]]:
    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        seen.append(list(messages))
        yield "A short answer."

    model = FunctionModel(stream_function=stream)
    return await collecting_session(store, tmp_path, model, context_tokens=WINDOW, max_tokens=ANSWER)


async def test_old_turns_are_left_out_and_the_user_is_told_once(store: Store, tmp_path: Path) -> None:
    seen: list[list[ModelMessage]] = []
    s, events = await session_with(store, tmp_path, seen)
    for i in range(8):
        await s.send(f"Question {i}: " + "words " * 80)  # ~160 tokens each by our estimate
    assert [t.status for t in await s.turns.list()] == ["complete"] * 8
    budget = WINDOW - OVERHEAD_TOKENS - ANSWER
    for messages in seen:
        assert sum(chars_of(m) for m in messages) // CHARS_PER_TOKEN <= budget
    last = prompts(seen[-1])
    assert last[-1].startswith("Question 7") and not any(p.startswith("Question 0") for p in last)
    assert [p.split(":")[0] for p in last] == sorted(p.split(":")[0] for p in last), "the newest turns, in order"
    told = [e for e in events if isinstance(e, Notice) and "context window" in e.message]
    assert len(told) == 1
    assert len(await s.turns.list()) == 8, "the stored chat keeps every turn"


async def test_a_message_too_long_for_the_window_is_not_sent(store: Store, tmp_path: Path) -> None:
    seen: list[list[ModelMessage]] = []
    s, events = await session_with(store, tmp_path, seen)
    await s.send("x " * 3000)
    assert seen == [], "nothing reached the model"
    [failed] = [e for e in events if isinstance(e, TurnFailed)]
    assert "too long for the model's context window" in failed.message and "not sent" in failed.message
    [turn] = await s.turns.list()
    assert turn.status == "error"
