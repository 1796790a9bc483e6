"""A running cell's output on the page: where it streams, and what a stopped cell keeps."""

from __future__ import annotations

from pydantic_ai.messages import ModelRequest, ModelResponse, ToolCallPart

from app.render import Renderer
from varro.chat.events import CELL_OUTPUT, CellStarted, NodeStarted, PartDelta, TurnStarted
from varro.chat.history import closed, keep_printed


def test_a_stopped_cell_keeps_its_output_for_the_page_not_the_model() -> None:
    call = ToolCallPart("run_python", {"code": "..."}, tool_call_id="c1")
    messages = closed([ModelRequest.user_text_prompt("go"), ModelResponse(parts=[call]), ModelRequest(parts=[])])
    kept = keep_printed(messages, "0\n1\n")
    ret = kept[-1].parts[-1]
    assert ret.metadata == {"stdout": "0\n1\n", "stopped": True}  # type: ignore[union-attr]
    assert "0\n1" not in ret.model_response_str()  # type: ignore[union-attr]
    assert keep_printed(messages, "") == messages


def test_cell_output_streams_into_the_live_cell_of_its_tool_step() -> None:
    r = Renderer(lambda p: p, lambda t: t)
    frame = r.frame([TurnStarted(0, "hi"), NodeStarted(0, 1), CellStarted(0, 1, 1_700_000_000.0),
                     PartDelta(0, 1, CELL_OUTPUT, "<b>0</b>\n")])
    assert 'data-testid="live-cell"' in frame and 'data-started="1700000000000"' in frame
    assert f'id="part-0-1-{CELL_OUTPUT}"' in frame
    assert "&lt;b&gt;0&lt;/b&gt;" in frame and "<b>0</b>" not in frame  # printed text is text, never markup
