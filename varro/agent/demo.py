"""The offline demo model: a scripted pydantic-ai `FunctionModel` that behaves like a real assistant.

Every response starts with a short thinking part. A plain message gets a markdown answer; a message with a
fenced python block (or asking for a plot) gets a streamed `run_python` tool call, and the response after
the tool result talks about that result; a message naming another tool of the agent (a host's) calls
that tool, its text arguments taken from the words after the name; `/stream N [at R]` answers with exactly N text chunks of varied
markdown at R chunks a second, and `/stream N [at R] until GATE` does not end before the file GATE exists in the
demo's gate folder (`VARRO_DEMO_GATES`, set by tests that need an answer held open until they release it); a
message with a python block and a last line `until GATE` holds its call's last argument chunk at that gate. No
network, no key, and the same conversation always gets the same reply.

Streaming facts this relies on (pydantic-ai 2.x `FunctionModel`): text is only ever a plain `str` item,
thinking and tool calls are `{index: Delta...}` dicts; each item is mapped on its own, so a thinking
dict, then `str` text (or a tool-call dict), in one response gives `ThinkingPart` then `TextPart`.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ModelResponsePart,
    RetryPromptPart,
    TextContent,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models.function import AgentInfo, DeltaThinkingPart, DeltaToolCall, FunctionModel
from pydantic_ai.tools import ToolDefinition

from varro.agent import demo_text as txt
from varro.agent.choices import DEMO_MODEL_NAME
from varro.agent.demo_pacing import Gates, Pacer, held_chunks
from varro.agent.title import plain_title_text

TOOL_NAME = "run_python"
MAX_STREAM_TOKENS = 100_000

# What a `FunctionModel` stream function yields: `str` is text; the dicts are keyed by our own part index.
StreamItem: TypeAlias = str | dict[int, DeltaThinkingPart] | dict[int, DeltaToolCall]

_TOKEN = re.compile(r"\s*\S{1,5}|\s+")
_PY_FENCE = re.compile(r"```[ \t]*(?:python3?|py)[ \t]*\r?\n(.*?)\r?\n?(?:```|\Z)", re.DOTALL | re.IGNORECASE)
_PLOT = re.compile(r"\b(?:plot|chart|graph|histogram|visuali[sz]e)", re.IGNORECASE)
_STREAM = re.compile(r"/stream(?:\s+(\d+))?(?:\s+at\s+(\d+(?:\.\d*)?))?(?:\s+until\s+([\w-]{1,64}))?",
                     re.IGNORECASE)
_UNTIL = re.compile(r"\n[ \t]*until[ \t]+([\w-]{1,64})[ \t]*\Z")  # a code message's last line: its call waits there
_TITLE = re.compile(r"\btitle\b", re.IGNORECASE)
_TABLE = re.compile(r"\bin a table\b", re.IGNORECASE)
_MATHS = re.compile(r"\b(?:formula|equation|maths?)\b", re.IGNORECASE)
_STEPS = re.compile(r"\bstep[- ]by[- ]step\b", re.IGNORECASE)


def split_tokens(text: str) -> Iterator[str]:
    """Word-ish chunks of at most five visible characters (with their leading whitespace); they join to `text`."""
    return (m.group() for m in _TOKEN.finditer(text))


@dataclass
class Reply:
    """One scripted response: thinking, then either text chunks (possibly lazy) or a tool call.

    The call is `run_python` with `tool_code`, or another tool of the agent (`tool_name`) with `tool_json`.
    """

    thinking: str
    text: Iterable[str] = ()
    tool_code: str | None = None
    tool_call_id: str = ""
    tps: float | None = None
    gate: str | None = None  # the text (or a call's arguments) does not end before this gate opens (`Gates`)
    tool_name: str = TOOL_NAME
    tool_json: str | None = None

    @property
    def call_args(self) -> str | None:
        """The call's arguments as the JSON a provider would send; None for a text reply."""
        return tool_args(self.tool_code) if self.tool_code is not None else self.tool_json


# --- reading the conversation ----------------------------------------------------------------------


def prompt_text(part: UserPromptPart) -> str:
    """The text of a user prompt, ignoring images and other attachments."""
    if isinstance(part.content, str):
        return part.content
    return "\n".join(c if isinstance(c, str) else c.content for c in part.content if isinstance(c, str | TextContent))


def user_prompts(messages: list[ModelMessage]) -> list[str]:
    """Every user prompt in the conversation, oldest first."""
    return [
        prompt_text(p)
        for m in messages
        if isinstance(m, ModelRequest)
        for p in m.parts
        if isinstance(p, UserPromptPart)
    ]


def tool_result(messages: list[ModelMessage]) -> str | None:
    """The tool output when the latest request answers a tool call (not a new user prompt), else None."""
    last = next((m for m in reversed(messages) if isinstance(m, ModelRequest)), None)
    if last is None or any(isinstance(p, UserPromptPart) for p in last.parts):
        return None
    for part in reversed(last.parts):
        if isinstance(part, ToolReturnPart):
            return part.content if isinstance(part.content, str) else part.model_response_str()
        if isinstance(part, RetryPromptPart):
            return part.model_response()
    return None


def last_tool_call(messages: list[ModelMessage]) -> ToolCallPart | None:
    """The most recent tool call: its name is quoted, its code tells whether it drew a figure."""
    for m in reversed(messages):
        if isinstance(m, ModelResponse):
            for p in reversed(m.parts):
                if isinstance(p, ToolCallPart):
                    return p
    return None


def named_tool(text: str, info: AgentInfo) -> tuple[ToolDefinition, str] | None:
    """A tool of the agent besides `run_python` that the message names, with the words after its name."""
    for tool in info.function_tools:
        if tool.name != TOOL_NAME and (m := re.search(rf"\b{re.escape(tool.name)}\b", text, re.IGNORECASE)):
            return tool, text[m.end():].strip(" \t\n:,.?!")
    return None


def demo_args(tool: ToolDefinition, rest: str, topic: str) -> dict[str, object]:
    """Arguments for a host's tool: its required text parameters get the words after its name (or the topic),
    numbers the first number in them, flags `true`."""
    schema = tool.parameters_json_schema
    number = re.search(r"-?\d+(?:\.\d+)?", rest)
    args: dict[str, object] = {}
    for name in schema.get("required", []):
        kind = schema.get("properties", {}).get(name, {}).get("type")
        if kind in ("integer", "number"):
            args[name] = (int if kind == "integer" else float)(float(number.group())) if number else 1
        elif kind == "boolean":
            args[name] = True
        else:
            args[name] = re.sub(r"^(?:for|in|of|about|on)\s+", "", rest, flags=re.IGNORECASE) or topic
    return args


# --- choosing the reply ----------------------------------------------------------------------------


def stream_chunks(count: int, seed: int) -> Iterator[str]:
    """Exactly `count` chunks of varied markdown, built lazily block by block (linear in `count`)."""
    remaining = count
    for block in txt.markdown_blocks(seed):
        if remaining <= 0:
            return
        tokens = list(split_tokens(block))
        if len(tokens) > remaining:
            # Cutting a block (a code fence, say) would leave broken markdown: end with plain prose instead.
            tokens = list(txt.filler_tokens(remaining, seed))
        yield from tokens
        remaining -= len(tokens)


def plan_reply(messages: list[ModelMessage], info: AgentInfo) -> Reply:
    """Decide what the next response says, from the conversation alone."""
    prompts = user_prompts(messages)
    calls = sum(isinstance(p, ToolCallPart) for m in messages if isinstance(m, ModelResponse) for p in m.parts)
    call_id = f"demo_call_{calls + 1}"
    output = tool_result(messages)
    if output is not None:
        call = last_tool_call(messages)
        code = str(call.args_as_dict().get("code", "")) if call is not None else ""
        return Reply(
            thinking="The tool has finished. I'll quote its output and check it for errors.",
            text=split_tokens(txt.result_markdown(output, "plt." in code, call.tool_name if call else TOOL_NAME)),
        )
    latest = prompts[-1] if prompts else ""
    topic = txt.topic_of(latest)
    if command := _STREAM.fullmatch(latest.strip()):
        return stream_reply(command)
    has_tool = any(t.name == TOOL_NAME for t in info.function_tools)
    if found := named_tool(latest, info):
        tool, rest = found
        return Reply(thinking=f"The message names the `{tool.name}` tool, so I'll call it.", tool_name=tool.name,
                     tool_json=json.dumps(demo_args(tool, rest, topic)), tool_call_id=call_id)
    if has_tool and (blocks := _PY_FENCE.findall(latest)):
        thinking = "The message includes a Python block, so I'll run it with `run_python` and report what it printed."
        return Reply(thinking=thinking, tool_code="\n\n".join(b.strip("\n") for b in blocks), tool_call_id=call_id,
                     gate=until.group(1) if (until := _UNTIL.search(latest.rstrip())) else None)
    if has_tool and _PLOT.search(latest):
        thinking = f"A chart about {topic} is wanted; a short matplotlib script run through `run_python` will draw it."
        return Reply(thinking=thinking, tool_code=txt.plot_code(latest, topic), tool_call_id=call_id)
    if not has_tool and _TITLE.search(f"{info.instructions or ''}\n{latest}"):
        # A tool-less agent asked for a title (the app's title helper): one line about the quoted message.
        topic = txt.topic_of(plain_title_text(latest))
        return Reply(thinking="A short title is wanted.", text=split_tokens(txt.title_text(topic)))
    if _MATHS.search(latest):
        return Reply(thinking=f"Some maths about {topic}, typeset.", text=split_tokens(txt.maths_markdown(topic)))
    if _STEPS.search(latest):
        topic = txt.topic_of(_STEPS.sub(" ", latest))
        return Reply(thinking=f"How to go about {topic}, in steps.", text=split_tokens(txt.steps_markdown(topic)))
    if _TABLE.search(latest):
        return Reply(thinking=f"A comparison of {topic}, best shown as a table.", text=split_tokens(txt.table_markdown(topic)))
    earlier = txt.topic_of(prompts[-2]) if len(prompts) > 1 else None
    return Reply(
        thinking=f"The user is asking about {topic}. A short overview with a list and an example will do.",
        text=split_tokens(txt.answer_markdown(topic, len(prompts), earlier)),
    )


def stream_reply(command: re.Match[str]) -> Reply:
    """`/stream N [at R] [until GATE]`: N chunks of markdown, paced at R chunks a second when R is given."""
    count = min(int(command.group(1) or 200), MAX_STREAM_TOKENS)
    rate = float(command.group(2)) if command.group(2) else None
    pace = f" at {rate:g} tokens a second" if rate is not None else ""
    return Reply(
        thinking=f"A streaming test: {count} tokens of mixed markdown{pace}.",
        text=stream_chunks(count, count),
        tps=rate,
        gate=command.group(3),
    )


# --- producing it ----------------------------------------------------------------------------------


def tool_args(code: str) -> str:
    """The `run_python` arguments as the JSON a provider would send."""
    return json.dumps({"code": code})


async def stream_reply_items(reply: Reply, tps: float, gates: Gates | None = None) -> AsyncIterator[StreamItem]:
    """The reply as `FunctionModel` stream items: thinking dicts, then `str` text or tool-call dicts."""
    pacer = Pacer(tps if reply.tps is None else reply.tps)
    for chunk in split_tokens(reply.thinking):
        await pacer.tick()
        yield {0: DeltaThinkingPart(content=chunk)}
    if (args := reply.call_args) is None:
        for chunk in reply.text:
            await pacer.tick()
            yield chunk
        async for chunk in held_chunks(gates, reply.gate, len(reply.thinking)):
            yield chunk
        return
    chunks = list(split_tokens(args))
    for i, chunk in enumerate(chunks):
        await pacer.tick()
        if i == len(chunks) - 1 and gates is not None and reply.gate is not None:
            await gates.wait(reply.gate)  # the page has shown the arguments so far, as they were
        # The name and id go in the first delta only; later ones just extend the JSON arguments.
        first = i == 0
        name, call_id = (reply.tool_name, reply.tool_call_id) if first else (None, None)
        yield {1: DeltaToolCall(name, chunk, tool_call_id=call_id)}


def reply_response(reply: Reply) -> ModelResponse:
    """The reply as one non-streamed `ModelResponse`."""
    parts: list[ModelResponsePart] = [ThinkingPart(content=reply.thinking)]
    if (args := reply.call_args) is None:
        parts.append(TextPart(content="".join(reply.text)))
    else:
        parts.append(ToolCallPart(reply.tool_name, args, tool_call_id=reply.tool_call_id))
    return ModelResponse(parts=parts)


def demo_model(tps: float = 60.0, name: str = DEMO_MODEL_NAME, gates: Path | None = None) -> FunctionModel:
    """The scripted offline model, streaming at `tps` tokens a second (0 or less: as fast as possible); `gates`:
    the folder whose files open the gates `/stream ... until GATE` waits on (None: such answers just end)."""
    held = Gates(gates) if gates is not None else None

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> AsyncIterator[StreamItem]:
        async for item in stream_reply_items(plan_reply(messages, info), tps, held):
            yield item

    async def respond(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return reply_response(plan_reply(messages, info))

    return FunctionModel(respond, stream_function=stream, model_name=name)
