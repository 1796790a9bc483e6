"""A model that calls tools forever (a small local one may) is stopped at VARRO_MODEL_REQUESTS, with the steps it
made kept and a sentence that says what happened, instead of a turn that runs on for minutes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

from pydantic_ai.messages import ModelMessage
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

from tests.unit.sessions import collecting_session
from varro.chat.content import messages_of
from varro.db.crud import Store
from varro.shell import CellResult


def calls_forever() -> FunctionModel:
    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[dict[int, DeltaToolCall]]:
        yield {0: DeltaToolCall(name="run_python", json_args=json.dumps({"code": "1 + 1"}))}

    return FunctionModel(stream_function=stream, model_name="looping")


async def test_a_model_that_keeps_calling_tools_stops_at_the_limit(store: Store, tmp_path: Path) -> None:
    s, _ = await collecting_session(store, tmp_path, calls_forever(), model_requests=3)
    cells: list[str] = []

    async def run(k: int, code: str) -> CellResult:
        cells.append(code)
        return CellResult(stdout="2")

    s._run_cell = run  # type: ignore[method-assign]
    await s.send("go")
    [turn] = await s.turns.list()
    assert turn.status == "error"
    assert "kept calling tools" in turn.content["meta"]["error"]
    assert len(cells) == 3, "every request the limit allowed ran its cell"
    assert sum(1 for m in messages_of(turn.content) if m.kind == "request") >= 3, "the steps made are kept"
