"""The `run_python` cells stored in a chat's turns, in order: what a restored shell replays."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, ToolCallPart, ToolReturnPart

from varro.shell.replay import StoredCell

TOOL_NAME = "run_python"


def code_of(call: ToolCallPart) -> str | None:
    try:
        code = call.args_as_dict().get("code")
    except Exception:  # malformed arguments from a model: nothing ran, nothing to replay
        return None
    return code if isinstance(code, str) else None


def cells_of(turn: int, messages: Iterable[ModelMessage]) -> list[StoredCell]:
    """The cells of one turn, each with the text the model got back (to compare on replay)."""
    messages = list(messages)
    returns = {
        p.tool_call_id: p
        for m in messages
        if isinstance(m, ModelRequest)
        for p in m.parts
        if isinstance(p, ToolReturnPart)
    }
    cells = []
    for m in messages:
        if not isinstance(m, ModelResponse):
            continue
        for part in m.parts:
            if not (isinstance(part, ToolCallPart) and part.tool_name == TOOL_NAME):
                continue
            code = code_of(part)
            ret = returns.get(part.tool_call_id)
            if code is None or ret is None or getattr(ret, "outcome", "success") not in ("success", None):
                continue  # never ran (stopped before the tool) or was interrupted: don't replay it
            cells.append(StoredCell(turn=turn, code=code, expected=ret.model_response_str()))
    return cells
