"""A turn's set-up, from the user's message to the model's first request, costs a few SQL statements.

The chat's title is written beside the turn (varro/chat/titles.py), not in its way: the session here has none."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, FunctionModel
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.unit.sessions import collecting_session
from varro.db.crud import Store

SETUP_STATEMENTS = 4  # the shown turns it replaces off the path (none), its row, its parent's link, the chat's updated_at


@pytest.fixture
def statements() -> Iterator[list[str]]:
    """Every SQL statement any engine runs while the test does."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split())[:80])

    event.listen(Engine, "before_cursor_execute", note)
    yield seen
    event.remove(Engine, "before_cursor_execute", note)


def held_model(reached: asyncio.Event, gate: asyncio.Event) -> FunctionModel:
    """A model that says when its first request arrives, and answers once the test opens the gate."""

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str]:
        reached.set()
        await gate.wait()
        yield "done"

    return FunctionModel(stream_function=stream, model_name="held")


@pytest.mark.parametrize("turns_before", [0, 2])
async def test_a_turn_reaches_the_model_after_a_few_statements(store: Store, tmp_path: Path, statements: list[str],
                                                               turns_before: int) -> None:
    reached, gate = asyncio.Event(), asyncio.Event()
    session, _ = await collecting_session(store, tmp_path, held_model(reached, gate))
    await session.load()
    for k in range(turns_before):
        gate.set()
        await session.send(f"earlier {k}")
        gate.clear()
        reached.clear()
    statements.clear()
    task = session.send("hello")
    await reached.wait()
    at_model = list(statements)
    gate.set()
    await task
    assert len(at_model) <= SETUP_STATEMENTS, at_model
