"""Keep the model history valid whatever way a turn ended."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

from pydantic_ai.messages import (
    INTERRUPTED_TOOL_RETURN_CONTENT,
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)


def _interrupted(call: ToolCallPart) -> ToolReturnPart:
    return ToolReturnPart(call.tool_name, INTERRUPTED_TOOL_RETURN_CONTENT, call.tool_call_id, outcome="interrupted")


def closed(messages: list[ModelMessage]) -> list[ModelMessage]:
    """Give every tool call a result, so the next run can send this history to a provider.

    A turn stopped while its tools ran ends in a request holding only the results that came back (often
    none); pydantic-ai repairs that only while it is the very end of the history, and this turn's messages
    will be followed by others'. So the calls still open get an `interrupted` result (shown as such, never
    replayed), and an empty request goes. A run that failed with a response whose calls never ran loses
    that response instead: nothing of it happened.
    """
    out = list(messages)
    answered = {p.tool_call_id for m in out if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, ToolReturnPart)}
    if len(out) >= 2 and isinstance(out[-1], ModelRequest) and isinstance(out[-2], ModelResponse):
        missing = [c for c in out[-2].tool_calls if c.tool_call_id not in answered]
        if missing:
            out[-1] = replace(out[-1], parts=[*out[-1].parts, *map(_interrupted, missing)])
            answered.update(c.tool_call_id for c in missing)
    if out and isinstance(out[-1], ModelRequest) and not out[-1].parts:
        out.pop()
    while out and isinstance(out[-1], ModelResponse):
        calls = [p for p in out[-1].parts if isinstance(p, ToolCallPart)]
        if all(c.tool_call_id in answered for c in calls):
            break
        out.pop()
    return out


def keep_printed(messages: list[ModelMessage], printed: str) -> list[ModelMessage]:
    """A cell stopped while it ran keeps what it printed: its `interrupted` result carries the output for the page
    (metadata, never sent to the model)."""
    if not printed or not messages or not isinstance(last := messages[-1], ModelRequest):
        return messages
    parts = list(last.parts)
    for i, part in enumerate(parts):  # cells run one at a time: the first call left open was the one running
        if isinstance(part, ToolReturnPart) and part.outcome == "interrupted":
            parts[i] = replace(part, metadata={"stdout": printed, "stopped": True})
            return [*messages[:-1], replace(last, parts=parts)]
    return messages


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})", re.M)


def closed_fence(text: str) -> str:
    """`text` with a code block it left open closed, as an answer cut off mid-block would leave it."""
    opened: str | None = None
    for m in _FENCE.finditer(text):
        fence = m[1]
        if opened is None:
            opened = fence
        elif fence[0] == opened[0] and len(fence) >= len(opened) and not text[m.end():].split("\n", 1)[0].strip():
            opened = None
    return text if opened is None else text.rstrip("\n") + "\n" + opened


def fences_closed(messages: list[ModelMessage]) -> list[ModelMessage]:
    """A cut-off answer's last text with its open code block closed (page, copy, export and the model's history)."""
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(m := messages[i], ModelResponse):
            parts = [replace(p, content=closed_fence(p.content)) if isinstance(p, TextPart) else p for p in m.parts]
            return [*messages[:i], replace(m, parts=parts), *messages[i + 1:]]
    return messages


BY_HAND = "I ran this code in the chat's Python shell myself:"


def as_users_own(messages: list[ModelMessage], ts: datetime | None = None) -> list[ModelMessage]:
    """A turn the user ran by hand, as the model reads it from then on: one message of the user's with the code and
    what it gave (never a tool call the model did not make)."""
    calls = [p for m in messages if isinstance(m, ModelResponse) for p in m.parts if isinstance(p, ToolCallPart)]
    results = [p for m in messages if isinstance(m, ModelRequest) for p in m.parts if isinstance(p, ToolReturnPart)]
    if not calls:
        return []
    code = str(calls[0].args_as_dict().get("code", ""))
    gave = results[0].model_response_str() if results else "(it did not finish)"
    text = f"{BY_HAND}\n```python\n{code}\n```\nIt gave:\n{gave}"
    return [ModelRequest(parts=[UserPromptPart(text, timestamp=ts or datetime.now(UTC))])]

