"""Exports: Markdown and a notebook that nbformat accepts, with code cells, outputs and images."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import nbformat
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart, UserPromptPart

from varro.chat.content import Attachment, build_content
from varro.db.models import Turn
from varro.export import to_markdown, to_notebook
from varro.files import ChatFile

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


CHART = '{"data": [{"type": "scatter", "x": [1, 2], "y": [3, 4]}], "layout": {"title": {"text": "Points"}}}'


def data_turn() -> Turn:
    """A message with an uploaded CSV; a cell whose value is a DataFrame and that wrote out.xlsx."""
    table = "<table><tr><th>mean</th><td>4999.5</td></tr></table><script>alert(1)</script>"
    messages = [
        ModelRequest(parts=[UserPromptPart("describe it")]),
        ModelResponse(parts=[ToolCallPart("run_python", {"code": "df.describe()"}, "c1")]),
        ModelRequest(parts=[ToolReturnPart("run_python", "[result]\nmean 4999.5", "c1",
                                           metadata={"stdout": "", "result": "mean 4999.5", "html": [table],
                                                     "result_html": True, "charts": [CHART]})]),
    ]
    files = [ChatFile("sales.csv", 2048, "text/csv")]
    written = {"c1": [Attachment("1/1/x.bin", "application/octet-stream", name="out.xlsx", size=6758)]}
    content = build_content("describe it", datetime.now(UTC), messages, written, {}, files)
    return Turn(chat_id=1, idx=0, user_text="describe it", content=content, status="complete")


def test_exports_name_the_uploads_and_keep_tables_and_written_files() -> None:
    nb = nbformat.reads(to_notebook("Data", [data_turn()], lambda a: b"never read"), as_version=4)
    nbformat.validate(nb)
    assert "Attached: sales.csv (2.0 KB, text/csv)" in nb.cells[1].source
    code = next(c for c in nb.cells if c.cell_type == "code")
    value = next(o for o in code.outputs if o.output_type == "execute_result")
    assert "4999.5" in value.data["text/html"] and value.data["text/plain"] == "mean 4999.5"
    assert any("Files written: out.xlsx (6.6 KB)" in c.source for c in nb.cells)
    chart = next(o for o in code.outputs if "application/vnd.plotly.v1+json" in o.get("data", {}))
    assert chart.data["application/vnd.plotly.v1+json"]["layout"]["title"]["text"] == "Points"
    md = to_markdown("Data", [data_turn()], lambda a: b"never read")
    assert "Attached: sales.csv (2.0 KB, text/csv)" in md and "Files written: out.xlsx (6.6 KB)" in md
    assert "1 interactive chart: kept in the notebook export" in md
    assert "<td>4999.5</td>" in md and "<script" not in md and "alert" not in md
    assert "never read" not in md and "base64" not in md  # a written file is named, never inlined as an image
