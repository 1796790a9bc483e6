"""The history sent to the model stays within VARRO_CONTEXT_TOKENS: oldest turns are left out, the user is told once,
and a message that cannot fit is refused before anything is sent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic_ai import models
from pydantic_ai.messages import BinaryContent, ModelMessage, ModelRequest, ToolReturnPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

from tests.fakes.openai_server import recorded, run_fake_openai
from tests.unit.sessions import collecting_session, fake_provider_model
from varro.chat.context import CHARS_PER_TOKEN, OVERHEAD_TOKENS, TokenScale
from varro.chat.events import Event, Notice, TurnFailed
from varro.chat.session import ChatSession
from varro.chat.usage import IMAGE_CHARS, chars_of
from varro.db.crud import Store
from varro.shell import CellResult

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


ENGLISH = ("The quarterly report shows that sales in the northern region grew steadily, while the southern stores "
           "struggled with supply problems and a wet summer. ")


async def test_a_long_english_message_fits_once_the_provider_counts_it(store: Store, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """13,000 characters of English are about 2,200 tokens by the provider's `/tokenize`, not the 4,300 that three
    characters a token make: the message is sent, not refused, in a 4,096-token window."""
    monkeypatch.setattr(models, "ALLOW_MODEL_REQUESTS", True)
    message = (ENGLISH * 120)[:13_000]
    with run_fake_openai() as fake:
        s, events = await collecting_session(store, tmp_path, fake_provider_model(fake), context_tokens=4096,
                                             max_tokens=256)
        await s.send(message + " Summarise.")
        await s.wait()
        [turn] = await s.turns.list()
        assert turn.status == "complete", [e for e in events if isinstance(e, TurnFailed)]
        sent = [b for b in recorded(fake) if b.get("tools")]
        assert len(sent) == 1 and message in json.dumps(sent[0]["messages"])
        await s.close()


async def test_a_tool_loop_cannot_grow_past_the_window(store: Store, tmp_path: Path) -> None:
    """Each step's output is large: every request the loop makes is fitted to the window (this turn's oldest
    outputs left out, its calls kept), and the next message is answered."""
    seen: list[list[ModelMessage]] = []

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str | dict[int, DeltaToolCall]]:
        seen.append(list(messages))
        if "next" in prompts(messages)[-1]:
            yield "Answered."
        elif sum(isinstance(p, ToolReturnPart) for m in messages for p in m.parts) < 6:
            yield {0: DeltaToolCall(name="run_python", json_args=json.dumps({"code": "print(big)"}),
                                    tool_call_id=f"c{len(seen)}")}
        else:
            yield "Done."

    s, events = await collecting_session(store, tmp_path, FunctionModel(stream_function=stream),
                                         context_tokens=2048, max_tokens=200)

    async def run(code: str) -> CellResult:
        return CellResult(stdout="x, " * 600)  # about 600 tokens at three characters a token

    s._run_cell = lambda k, code: run(code)  # type: ignore[method-assign]
    await s.send("Loop over the data")
    await s.wait()
    scale = TokenScale()
    for messages in seen:
        assert scale.overhead + scale.of_messages(messages) <= 2048 - 200
    assert len(seen) == 7 and [t.status for t in await s.turns.list()] == ["complete"]
    await s.send("And next?")
    await s.wait()
    assert [t.status for t in await s.turns.list()] == ["complete", "complete"]
    assert "next" in prompts(seen[-1])[-1]


def test_a_figure_counts_as_an_image_not_as_its_bytes() -> None:
    """A tool's figure goes to the model with its result: counted by its bytes, one PNG filled a 2,048-token window
    and every turn with a plot was refused as too long before it was sent (found against llama-server)."""
    png = BinaryContent(data=b"\x89PNG" + bytes(200_000), media_type="image/png")
    message = ModelRequest(parts=[UserPromptPart(["The figure:", png])])
    assert chars_of(message) == len("The figure:") + IMAGE_CHARS
