"""The assistant: a pydantic-ai agent with one tool, a stateful IPython shell."""

from __future__ import annotations

from pydantic_ai import Agent, RunContext
from pydantic_ai.messages import BinaryContent, ToolReturn

from varro.agent.tools import Deps

INSTRUCTIONS = """\
You are Varro, a helpful assistant with a stateful IPython shell.
Use the `run_python` tool to compute, analyse data or make plots instead of guessing; names you
define persist between calls within the chat. Show figures with matplotlib (`plt.show()`).
Answer in Markdown; keep answers focused."""

agent: Agent[Deps, str] = Agent(deps_type=Deps, instructions=INSTRUCTIONS, name="varro")


@agent.tool
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
    if saved and ctx.tool_call_id:
        ctx.deps.attachments.setdefault(ctx.tool_call_id, []).extend(saved)
    images = [BinaryContent(data=i.data, media_type=i.media_type) for i in result.images if i.media_type == "image/png"]
    # metadata is kept in the stored messages for rendering but never sent to the model.
    return ToolReturn(
        return_value=result.to_text(),
        content=images if ctx.deps.images_to_model and images else None,
        metadata=result.to_dict(),
    )
