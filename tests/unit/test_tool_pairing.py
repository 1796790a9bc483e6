"""Parallel tool calls: each output names its call, in the order the model made the calls, the same live and after a
reload; a call whose arguments were cut off says so instead of showing pydantic-ai's INVALID_JSON marker."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

from fasthtml.common import to_xml
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, DeltaToolCall, FunctionModel

from app.render import Renderer
from tests.unit.sessions import collecting_session
from ui.turns import MessageBlocks
from varro.chat.content import messages_of
from varro.chat.events import ToolsFinished
from varro.chat.history import BY_HAND, as_users_own
from varro.db.crud import Store
from varro.shell import CellResult


def two_calls() -> FunctionModel:
    """One response with two calls (the first one slow), then text."""

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[str | dict[int, DeltaToolCall]]:
        if any(isinstance(p, ToolReturnPart) for p in messages[-1].parts):
            yield "Both done."
            return
        for i, code in enumerate(["slow = 1", "fast = 2"]):
            yield {i: DeltaToolCall(name="run_python", json_args=json.dumps({"code": code}), tool_call_id=f"call-{i}")}

    return FunctionModel(stream_function=stream, model_name="script")


def outputs(html: str) -> list[str]:
    return re.findall(r"Output of call (\d)", html)


async def test_outputs_follow_the_calls_live_and_after_reload(store: Store, tmp_path: Path) -> None:
    s, events = await collecting_session(store, tmp_path, two_calls())

    async def run(code: str) -> CellResult:
        await asyncio.sleep(0.3 if code.startswith("slow") else 0)  # the second call finishes first
        return CellResult(stdout=f"ran {code}")

    s._run_cell = lambda k, code: run(code)  # type: ignore[method-assign]
    await s.send("two things at once")
    [tools] = [e for e in events if isinstance(e, ToolsFinished)]
    live = to_xml(Renderer(lambda p: p, lambda title: None).fragment(tools))
    assert outputs(live) == ["1", "2"]
    assert live.index("ran slow = 1") < live.index("ran fast = 2")

    [turn] = await s.turns.list()
    stored = "".join(to_xml(b) for b in MessageBlocks(0, messages_of(turn.content), {}, lambda p: p))
    assert "run_python · call 1" in stored and "run_python · call 2" in stored
    reloaded = re.search(r'<div id="node-0-1".*?(?=<div id="node-0-2")', stored, re.S)
    assert reloaded and outputs(reloaded[0]) == ["1", "2"]
    assert reloaded[0].index("ran slow = 1") < reloaded[0].index("ran fast = 2")


def test_a_cut_off_call_says_so() -> None:
    call = ToolCallPart("run_python", '{"code": "for i in range(10):\\n    print(', "call-x")
    html = "".join(to_xml(b) for b in MessageBlocks(0, [ModelResponse(parts=[call])], {}, lambda p: p))
    assert "cut off" in html and "did not run" in html
    assert "INVALID_JSON" not in html
    assert "for i in range(10)" in html, "what did arrive is still shown"


def test_a_single_call_keeps_its_plain_label() -> None:
    call = ToolCallPart("run_python", {"code": "1"}, "c")
    ret = ToolReturnPart("run_python", "1", "c")
    html = "".join(to_xml(b) for b in MessageBlocks(0, [ModelResponse(parts=[call]), ModelRequest(parts=[ret])], {},
                                                    lambda p: p))
    assert "call 1" not in html and ">Output<" in html


def test_a_cell_run_by_hand_reaches_the_model_as_the_users_own_message() -> None:
    ran = [ModelRequest(parts=[UserPromptPart("```python\nprint(6 * 7)\n```")]),
           ModelResponse(parts=[ToolCallPart("run_python", {"code": "print(6 * 7)"}, "by-hand")]),
           ModelRequest(parts=[ToolReturnPart("run_python", "[stdout]\n42\n", "by-hand")]),
           ModelResponse(parts=[TextPart("Ran your code in the shell.")])]
    [said] = as_users_own(ran)
    assert isinstance(said, ModelRequest) and [type(p) for p in said.parts] == [UserPromptPart]
    text = str(said.parts[0].content)
    assert text.startswith(BY_HAND) and "print(6 * 7)" in text and "42" in text
