"""A cell the user runs by hand ("Run" on an answer's code block, "Edit & run" on a cell): a turn answered by a scripted
model that calls the shell once with exactly that code, so the cell streams, is stored and exported like any other.
The model of the chat never answers it; what it sees of it next turn is the user's own message (chat/history.py)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

from varro.chat.cells import TOOL_NAME

MODEL_NAME = "run-by-hand"
LABEL = "Run by you"
DONE = "Ran your code in the shell."  # the turn's closing words on the page


def by_hand_model(code: str) -> FunctionModel:
    """Call `run_python` with `code`; once its result is back, end the turn."""

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str | dict[int, DeltaToolCall]]:
        last = messages[-1]
        if isinstance(last, ModelRequest) and any(isinstance(p, ToolReturnPart) for p in last.parts):
            yield DONE
            return
        yield {0: DeltaToolCall(name=TOOL_NAME, json_args=json.dumps({"code": code}), tool_call_id="by-hand")}

    return FunctionModel(stream_function=stream, model_name=MODEL_NAME)
