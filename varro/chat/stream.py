"""Drive one `agent.iter()` run node by node, turning pydantic-ai stream events into our typed events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic_ai import Agent
from pydantic_ai.exceptions import ModelRequestTimeout
from pydantic_ai.messages import (
    FunctionToolResultEvent,
    ModelRequest,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ThinkingPart,
    ThinkingPartDelta,
    ToolCallPart,
    ToolCallPartDelta,
    ToolReturnPart,
)
from pydantic_ai.run import AgentRun

from varro.agent.tools import Deps
from varro.chat.events import (
    Event,
    NodeStarted,
    PartDelta,
    PartKind,
    PartStarted,
    ProgressChanged,
    ResponseFinished,
    ToolsFinished,
)

Emit = Callable[[Event], Awaitable[None]]


def _start(turn: int, node: int, ev: PartStartEvent) -> PartStarted | None:
    part = ev.part
    kind: PartKind
    if isinstance(part, TextPart):
        kind, content, tool = "text", part.content, None
    elif isinstance(part, ThinkingPart):
        kind, content, tool = "thinking", part.content, None
    elif isinstance(part, ToolCallPart):
        # Streamed arguments are a JSON prefix: show them as they came, not re-encoded.
        args = part.args if isinstance(part.args, str) else (json.dumps(part.args) if part.args else "")
        kind, content, tool = "tool_call", args, part.tool_name
    else:
        return None
    return PartStarted(turn, node, ev.index, kind, content, tool)


def _delta_text(ev: PartDeltaEvent) -> str:
    delta = ev.delta
    if isinstance(delta, TextPartDelta | ThinkingPartDelta):
        return delta.content_delta or ""
    if isinstance(delta, ToolCallPartDelta):
        args: Any = delta.args_delta
        return args if isinstance(args, str) else ""
    return ""


def in_call_order(returns: list[Any], calls: list[ToolCallPart]) -> list[Any]:
    """Results come back as the tools finish; the page shows them in the order the model called them."""
    order = {c.tool_call_id: i for i, c in enumerate(calls)}
    return sorted(returns, key=lambda r: order.get(str(getattr(r, "tool_call_id", "")), len(order)))


class NodeStreamer:
    """Streams every node of one run; counts nodes so ids stay unique across responses.

    `first_event_s` bounds each model request until its stream's first event (the provider's retries included), so
    a hung provider ends in a clear error. We keep this deadline ourselves rather than as pydantic-ai's
    `first_event_timeout`, which enters a cancel scope around every event of the stream for as long as it lasts:
    on a loaded server that was a twentieth of the CPU of a streamed token (docs/benchmarks.md).
    """

    def __init__(self, turn: int, emit: Emit, first_event_s: float | None = None, model_name: str = "") -> None:
        self.turn = turn
        self.emit = emit
        self.first_event_s = first_event_s
        self.model_name = model_name
        self.nodes = 0

    def _next_node(self) -> int:
        self.nodes += 1
        return self.nodes - 1

    async def run(self, run: AgentRun[Deps, Any]) -> None:
        async for node in run:
            if Agent.is_model_request_node(node):
                await self._model_request(node, run)
            elif Agent.is_call_tools_node(node):
                await self._call_tools(node, run)

    async def _model_request(self, node: Any, run: AgentRun[Deps, Any]) -> None:
        n = self._next_node()
        await self.emit(NodeStarted(self.turn, n))
        await self.emit(ProgressChanged(self.turn, "thinking"))
        deadline = asyncio.timeout(self.first_event_s)
        try:
            async with deadline:
                response = await self._stream_response(n, node, run, deadline)
        except TimeoutError:
            if not deadline.expired():
                raise
            raise ModelRequestTimeout(self.model_name, self.first_event_s or 0, setting="first_event_timeout") from None
        await self.emit(ResponseFinished(self.turn, n, response))

    async def _stream_response(self, n: int, node: Any, run: AgentRun[Deps, Any], deadline: asyncio.Timeout) -> Any:
        waiting = True
        async with node.stream(run.ctx) as stream:
            try:
                async for ev in stream:
                    if waiting:  # it answered: the rest may take as long as it keeps coming
                        deadline.reschedule(None)
                        waiting = False
                    if isinstance(ev, PartStartEvent):
                        started = _start(self.turn, n, ev)
                        if started is not None:
                            await self.emit(started)
                            if started.kind == "text":  # the answer itself is being typed now
                                await self.emit(ProgressChanged(self.turn, "writing"))
                    elif isinstance(ev, PartDeltaEvent) and (text := _delta_text(ev)):
                        await self.emit(PartDelta(self.turn, n, ev.index, text))
            except BaseException:
                # Stopped or failed mid-response: render what arrived, as a reload will show it.
                await self.emit(ResponseFinished(self.turn, n, stream.response))
                raise
            return stream.response

    async def _call_tools(self, node: Any, run: AgentRun[Deps, Any]) -> None:
        if not node.model_response.tool_calls:
            async with node.stream(run.ctx) as stream:
                async for _ in stream:
                    pass
            return
        n = self._next_node()
        names = ", ".join(sorted({c.tool_name for c in node.model_response.tool_calls}))
        await self.emit(NodeStarted(self.turn, n))
        await self.emit(ProgressChanged(self.turn, "tool", names))
        returns: list[Any] = []
        async with node.stream(run.ctx) as stream:
            async for ev in stream:
                if isinstance(ev, FunctionToolResultEvent):
                    returns.append(ev.part)
        deps = run.ctx.deps.user_deps
        ids = {r.tool_call_id for r in returns if isinstance(r, ToolReturnPart)}
        attachments = {k: v for k, v in deps.attachments.items() if k in ids}
        calls = list(node.model_response.tool_calls)
        await self.emit(ToolsFinished(self.turn, n, ModelRequest(parts=in_call_order(returns, calls)), attachments, calls))
