"""Exports: Markdown and a notebook that nbformat accepts, with code cells, outputs and images."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import nbformat
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart, UserPromptPart

from varro.chat.content import Attachment, build_content
from varro.db.models import Turn
from varro.export import to_markdown, to_notebook

PNG = b"\x89PNG\r\n\x1a\nfake"


def tool_turn() -> Turn:
    messages = [
        ModelRequest(parts=[UserPromptPart("add them")]),
        ModelResponse(parts=[TextPart("Running it."), ToolCallPart("run_python", {"code": "print(1 + 2)"}, "c1")]),
        ModelRequest(parts=[ToolReturnPart("run_python", "[stdout]\n3", "c1",
                                           metadata={"stdout": "3\n", "stderr": "", "result": None,
                                                     "error": "ZeroDivisionError: division by zero\nTraceback"})]),
        ModelResponse(parts=[TextPart("It printed **3**.")]),
    ]
    content = build_content("add them", datetime.now(UTC), messages, {"c1": [Attachment("1/1/a.png", "image/png")]},
                            {"model": "demo"})
    return Turn(chat_id=1, idx=0, user_text="add them", content=content, status="complete")


def test_notebook_is_valid_and_holds_code_outputs_and_images() -> None:
    nb = nbformat.reads(to_notebook("Sums", [tool_turn()], lambda a: PNG), as_version=4)
    nbformat.validate(nb)
    kinds = [c.cell_type for c in nb.cells]
    assert kinds == ["markdown", "markdown", "markdown", "code", "markdown"]
    code = nb.cells[3]
    assert code.source == "print(1 + 2)"
    types = [o.output_type for o in code.outputs]
    assert types == ["stream", "display_data", "error"]
    assert code.outputs[2].ename == "ZeroDivisionError"


def test_markdown_has_the_conversation_code_and_inline_images() -> None:
    md = to_markdown("Sums", [tool_turn()], lambda a: PNG)
    assert md.startswith("# Sums") and "## You\n\nadd them" in md
    assert "```python\nprint(1 + 2)\n```" in md and "It printed **3**." in md
    assert "data:image/png;base64," in md


def test_missing_images_are_left_out_not_fatal() -> None:
    nb = json.loads(to_notebook("x", [tool_turn()], lambda a: None))
    assert all("image/png" not in o.get("data", {}) for c in nb["cells"] if c["cell_type"] == "code"
               for o in c["outputs"])
