"""The assistant: a pydantic-ai agent whose one built-in tool is a stateful IPython shell.

`chat_agent()` builds it; a host app calls it with its own instructions and tools (and any other
`Agent` argument) and hands the result to `mount_chat(agent=...)`. `agent` is the default.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic_ai import Agent, RunContext, Tool
from pydantic_ai.messages import BinaryContent, ToolReturn

from varro.agent.tools import Deps
from varro.chat.cells import TOOL_NAME
from varro.names import shown

INSTRUCTIONS = """\
You are Varro, a helpful assistant with a stateful IPython shell.
Use the `run_python` tool to compute, analyse data or make plots instead of guessing; names you
define persist between calls within the chat. Show figures with matplotlib (`plt.show()`).
Answer in Markdown; keep answers focused."""

ChatAgent = Agent[Deps, str]


async def run_python(ctx: RunContext[Deps], code: str) -> ToolReturn:
    """Run Python code in the user's stateful IPython shell and return its output.

    Variables, imports and functions persist between calls. The value of the last expression is
    returned, as are stdout, stderr and errors. Figures shown with matplotlib are displayed to the
    user. Long-running cells are interrupted after a time limit.

    Args:
        code: The Python source to execute.
    """
    result = await ctx.deps.run_cell(code)
    saved = [ctx.deps.save_image(image) for image in result.images]
    files = [await ctx.deps.save_file(name) for name in result.files]
    saved += [f for f in files if f is not None]
    result.files = [shown(name) for name in result.files]  # told and stored as text, whatever bytes they hold
    if saved and ctx.tool_call_id:
        ctx.deps.attachments.setdefault(ctx.tool_call_id, []).extend(saved)
    images = [BinaryContent(data=i.data, media_type=i.media_type) for i in result.images if i.media_type == "image/png"]
    # metadata is kept in the stored messages for rendering but never sent to the model.
    return ToolReturn(
        return_value=result.to_text(),
        content=images if ctx.deps.images_to_model and images else None,
        metadata=result.to_dict(),
    )


def chat_agent(instructions: str | None = None, tools: Sequence[Tool[Deps] | Any] = (), **kwargs: Any) -> ChatAgent:
    """An agent for the chat: `run_python` plus `tools`, told `INSTRUCTIONS` and then `instructions`.

    `tools` are plain functions or `pydantic_ai.Tool`s; one taking a `RunContext[Deps]` first sees the
    signed-in user and the chat (`ctx.deps.user_id`, `ctx.deps.chat_id`). Other keyword arguments go to
    `Agent` as they are (`name`, `retries`, `model_settings`, ...). More tools can be added later with
    `@agent.tool` / `@agent.tool_plain`.
    """
    told = [INSTRUCTIONS] + ([instructions] if instructions else [])
    kwargs.setdefault("name", "varro")
    return Agent(deps_type=Deps, instructions=told, tools=[Tool(run_python, takes_ctx=True), *tools], **kwargs)


def has_shell(agent: Agent[Any, Any]) -> bool:
    """Whether `agent` has the `run_python` tool, which the chat's streaming and replay rely on."""
    return any(TOOL_NAME in getattr(toolset, "tools", {}) for toolset in agent.toolsets)


agent: ChatAgent = chat_agent()
