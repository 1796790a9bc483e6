"""Keep the model history valid whatever way a turn ended."""

from __future__ import annotations

from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, ToolCallPart, ToolReturnPart


def closed(messages: list[ModelMessage]) -> list[ModelMessage]:
    """Drop a trailing response whose tool calls never got results, so the next run can send it.

    Stopped runs come back already repaired by pydantic-ai (`RunCancelled.all_messages()`); a run that
    failed mid-way does not, and a provider would reject a tool call without its result.
    """
    out = list(messages)
    answered = {p.tool_call_id for m in out if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, ToolReturnPart)}
    while out and isinstance(out[-1], ModelResponse):
        calls = [p for p in out[-1].parts if isinstance(p, ToolCallPart)]
        if all(c.tool_call_id in answered for c in calls):
            break
        out.pop()
    return out
