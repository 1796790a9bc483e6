"""The demo model through a real pydantic-ai `Agent`: streaming, the tool turn, `/stream`, determinism."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pydantic_ai import Agent, models
from pydantic_ai.messages import (
    ModelMessage,
    ModelResponse,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ThinkingPart,
    ThinkingPartDelta,
    ToolCallPart,
    ToolCallPartDelta,
)

from varro.agent.choices import DEMO_MODEL_NAME
from varro.agent.demo import demo_model, split_tokens
from varro.agent.demo_pacing import Gates

TOOL_OUTPUT = "hello from the stub\n42"
FAST = 0.0  # unpaced, so the tests stay quick


@pytest.fixture(autouse=True)
def no_provider() -> Iterator[None]:
    """Any request that would reach a real provider fails the test."""
    before = models.ALLOW_MODEL_REQUESTS
    models.ALLOW_MODEL_REQUESTS = False
    yield
    models.ALLOW_MODEL_REQUESTS = before


def make_agent(tps: float = FAST, output: str = TOOL_OUTPUT) -> Agent[None, str]:
    agent = Agent(demo_model(tps))

    @agent.tool_plain
    def run_python(code: str) -> str:
        """Run Python code in a stateful IPython shell and return what it printed."""
        return output

    return agent


@dataclass
class Streamed:
    """What one streamed agent run produced, event by event."""

    events: list[tuple[str, object]] = field(default_factory=list)
    messages: list[ModelMessage] = field(default_factory=list)

    def of_response(self, n: int) -> list[object]:
        """Events of the n-th model response (0-based)."""
        return [ev for tag, ev in self.events if tag == f"request{n}"]

    def text_chunks(self, n: int = -1) -> list[str]:
        chunks = []
        for ev in self.of_response(n % self.requests):
            if isinstance(ev, PartStartEvent) and isinstance(ev.part, TextPart):
                chunks.append(ev.part.content)
            elif isinstance(ev, PartDeltaEvent) and isinstance(ev.delta, TextPartDelta):
                chunks.append(ev.delta.content_delta)
        return chunks

    @property
    def requests(self) -> int:
        """Model requests made in this run."""
        return len({tag for tag, _ in self.events})


async def stream(agent: Agent[None, str], prompt: str, history: list[ModelMessage] | None = None) -> Streamed:
    """Drive the agent the way the app does: `iter` plus `node.stream` on every model request."""
    out = Streamed()
    requests = 0
    async with agent.iter(prompt, message_history=history) as run:
        async for node in run:
            if Agent.is_model_request_node(node):
                async with node.stream(run.ctx) as events:
                    out.events += [(f"request{requests}", ev) async for ev in events]
                requests += 1
    assert run.result is not None
    out.messages = run.result.all_messages()
    return out


async def test_plain_message_streams_thinking_then_markdown_text() -> None:
    run = await stream(make_agent(), "Tell me about tide pools")
    events = run.of_response(0)
    starts = [ev for ev in events if isinstance(ev, PartStartEvent)]
    assert [type(ev.part) for ev in starts] == [ThinkingPart, TextPart]
    assert [ev.index for ev in starts] == [0, 1]
    assert sum(isinstance(ev, PartDeltaEvent) and isinstance(ev.delta, ThinkingPartDelta) for ev in events) >= 3
    assert len(run.text_chunks(0)) > 100

    response = run.messages[-1]
    assert isinstance(response, ModelResponse) and response.model_name == DEMO_MODEL_NAME
    assert [type(p) for p in response.parts] == [ThinkingPart, TextPart]
    text = response.parts[1].content
    assert text == "".join(run.text_chunks(0))
    assert text.startswith("## Tide pools")
    assert "\n- **" in text and re.search(r"[^`]`\w+(?:\(\))?`[^`]", text)
    assert "```python\n" in text and "'tide pools'" in text
    assert 150 <= len(text.split()) <= 300


async def test_python_fence_streams_a_tool_call_then_discusses_the_result() -> None:
    code = "import math\nprint(math.sqrt(2))\nfor i in range(3):\n    print(i)"
    run = await stream(make_agent(), f"Please run this:\n\n```python\n{code}\n```\n")
    assert run.requests == 2

    first = run.of_response(0)
    tool_start = next(ev for ev in first if isinstance(ev, PartStartEvent) and isinstance(ev.part, ToolCallPart))
    assert tool_start.part.tool_name == "run_python" and tool_start.index == 1
    deltas = [
        ev.delta.args_delta
        for ev in first
        if isinstance(ev, PartDeltaEvent) and isinstance(ev.delta, ToolCallPartDelta)
    ]
    assert len(deltas) >= 5
    assert json.loads(tool_start.part.args + "".join(deltas)) == {"code": code}
    assert not run.text_chunks(0)

    answer = run.messages[-1]
    assert isinstance(answer, ModelResponse) and isinstance(answer.parts[0], ThinkingPart)
    assert f"```text\n{TOOL_OUTPUT}\n```" in answer.parts[1].content
    assert "ran cleanly" in answer.parts[1].content


async def test_a_message_naming_a_host_tool_calls_it_with_the_words_after_the_name() -> None:
    agent = make_agent()
    calls: list[tuple[str, int]] = []

    @agent.tool_plain
    def forecast(city: str, days: int) -> str:
        """The weather to come in a city."""
        calls.append((city, days))
        return f"Sunny in {city} for {days} days"

    run = await stream(agent, "Please ask forecast for Oslo, 3 days.")
    assert calls == [("Oslo, 3 days", 3)]
    assert run.messages[1].parts[-1].tool_name == "forecast"
    assert "Here is what `forecast` returned" in run.messages[-1].parts[1].content
    assert "Sunny in Oslo, 3 days for 3 days" in run.messages[-1].parts[1].content


@pytest.mark.parametrize(
    ("output", "word"),
    [("Traceback (most recent call last):\nZeroDivisionError", "error"), ("Timed out after 30 s", "timed out")],
)
async def test_tool_errors_and_timeouts_are_reported(output: str, word: str) -> None:
    result = await make_agent(output=output).run("```py\n1/0\n```")
    assert f"**{word}**" in result.output and output in result.output


async def test_plot_request_runs_matplotlib_code() -> None:
    run = await stream(make_agent(), "Can you plot a histogram of wave heights?")
    call = next(p for m in run.messages if isinstance(m, ModelResponse) for p in m.parts if isinstance(p, ToolCallPart))
    code = call.args_as_dict()["code"]
    assert "import matplotlib.pyplot as plt" in code and "ax.hist(" in code and "plt.show()" in code
    compile(code, "<plot>", "exec")
    assert "figure" in run.messages[-1].parts[1].content


async def test_stream_command_yields_the_requested_number_of_chunks() -> None:
    run = await stream(make_agent(), "/stream 500")
    chunks = run.text_chunks()
    assert abs(len(chunks) - 500) <= 10
    text = "".join(chunks)
    assert "```python" in text and "\n- " in text and "\n1. " in text and text.count("```") % 2 == 0


async def test_stream_rate_overrides_the_model_rate() -> None:
    agent = make_agent(tps=1.0)  # would take minutes if `at R` were ignored
    started = time.monotonic()
    run = await stream(agent, "/stream 200 at 2000")
    elapsed = time.monotonic() - started
    assert len(run.text_chunks()) == 200
    assert 0.05 < elapsed < 1.0


async def test_replies_are_deterministic() -> None:
    for prompt in ("/stream 300", "Tell me about tide pools", "plot a line chart"):
        first, second = await stream(make_agent(), prompt), await stream(make_agent(), prompt)
        assert first.text_chunks() == second.text_chunks()


def test_large_stream_is_cheap() -> None:
    from varro.agent.demo import stream_chunks

    started = time.monotonic()
    chunks = list(stream_chunks(50_000, 50_000))
    assert len(chunks) == 50_000 and time.monotonic() - started < 2.0


async def test_plain_run_works_without_streaming() -> None:
    result = await make_agent().run("Tell me about tide pools")
    assert result.output.startswith("## Tide pools")
    tool_run = await make_agent().run("```python\nprint(1)\n```")
    assert TOOL_OUTPUT in tool_run.output


async def test_title_agent_without_tools_gets_one_line() -> None:
    agent = Agent(demo_model(FAST), instructions="Write a short title for this chat.")
    result = await agent.run("Tell me about tide pools and the creatures in them")
    assert result.output == "Tide pools and the creatures in them"


async def test_history_reaches_the_model() -> None:
    agent = make_agent()
    first = await agent.run("Tell me about tide pools")
    second = await stream(agent, "What is a monad?", first.all_messages())
    text = "".join(second.text_chunks())
    assert "message 2 in our conversation" in text and "*tide pools*" in text


def test_tokens_are_small_and_join_back() -> None:
    text = "## Heading\n\nSome `code` and   spaces.\n\n"
    tokens = list(split_tokens(text))
    assert "".join(tokens) == text
    assert all(len(t.strip()) <= 5 for t in tokens)


async def test_an_answer_held_at_its_gate_goes_on_until_the_test_opens_it(tmp_path: Path) -> None:
    gates = Gates(tmp_path / "gates")
    agent = Agent(demo_model(0, gates=gates.folder))
    chunks: list[str] = []

    async def answer() -> None:
        async with agent.run_stream("/stream 5 until g-1") as run:
            async for text in run.stream_text(delta=True, debounce_by=None):
                chunks.append(text)

    running = asyncio.create_task(answer())
    while len(chunks) < 8:  # past its own five chunks: held, and still writing
        await asyncio.sleep(0.01)
    assert not running.done()
    gates.open("g-1")
    await asyncio.wait_for(running, 5)


async def test_without_a_gate_folder_an_answer_waiting_on_a_gate_just_ends() -> None:
    agent = Agent(demo_model(0))
    async with agent.run_stream("/stream 5 until g-1") as run:
        gated = await asyncio.wait_for(run.get_output(), 5)
    async with agent.run_stream("/stream 5") as run:
        assert gated == await run.get_output()


async def test_a_code_message_ending_in_until_holds_its_calls_last_argument_piece_at_the_gate(tmp_path: Path) -> None:
    gates = Gates(tmp_path / "gates")
    agent = Agent(demo_model(0, gates=gates.folder))
    ran: list[str] = []

    @agent.tool_plain
    def run_python(code: str) -> str:
        """Run Python code."""
        ran.append(code)
        return "42"

    running = asyncio.create_task(stream(agent, "Run:\n```python\nprint(6 * 7)\n```\nuntil args-1"))
    await asyncio.sleep(0.5)
    assert not running.done() and ran == [], "held before its last piece: the call is not whole"
    gates.open("args-1")
    run = await asyncio.wait_for(running, 5)
    assert ran == ["print(6 * 7)"], "the gate's line is not part of the code"
    assert sum(isinstance(ev, PartDeltaEvent) and isinstance(ev.delta, ToolCallPartDelta) for ev in run.of_response(0)) > 1
