"""Events to fragments: ids unique across responses, text escaped, frames made of id'd OOB elements."""

from __future__ import annotations

import re

from fasthtml.common import to_xml
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart

from app.render import Renderer
from varro.chat.content import Attachment
from varro.chat.events import (
    NodeStarted,
    PartDelta,
    PartStarted,
    ProgressChanged,
    ResponseFinished,
    ToolsFinished,
    TurnFinished,
    TurnStarted,
)


def renderer() -> Renderer:
    return Renderer(lambda path: f"/chat/uploads/{path}", lambda title: None)


def top_level_ids(frame: str) -> list[str]:
    return re.findall(r'^<\w+[^>]* id="([^"]+)"', frame, flags=re.M)


def test_part_ids_stay_unique_across_responses() -> None:
    """pydantic-ai restarts the part index per response; our ids include the node number."""
    r = renderer()
    first = r.frame([NodeStarted(0, 0), PartStarted(0, 0, 0, "text", "a")])
    second = r.frame([NodeStarted(0, 1), PartStarted(0, 1, 0, "text", "b")])
    assert 'id="part-0-0-0"' in first and 'id="part-0-1-0"' in second
    assert 'id="part-0-0-0"' not in second


def test_deltas_are_escaped_text() -> None:
    frame = renderer().frame([PartDelta(0, 0, 0, '<img src=x onerror="alert(1)"><script>bad()</script>')])
    assert "<img" not in frame and "<script" not in frame
    assert "&lt;img" in frame and "&lt;script&gt;" in frame
    assert 'hx-swap-oob="beforeend"' in frame


def test_user_text_is_escaped_in_the_turn_shell() -> None:
    frame = renderer().frame([TurnStarted(3, '<b hx-get="/x" hx-trigger="load">hi</b>')])
    assert "<b " not in frame and "&lt;b hx-get" in frame
    assert 'id="turn-3"' in frame and 'id="assistant-3"' in frame and 'id="user-3"' in frame


def test_finished_response_replaces_its_node_with_rendered_markdown() -> None:
    response = ModelResponse(parts=[TextPart("## Title\n\n- one\n- two\n\n<script>x()</script>")])
    frame = renderer().frame([ResponseFinished(2, 1, response)])
    assert top_level_ids(frame) == ["node-2-1"] and 'hx-swap-oob="true"' in frame
    assert "<h2>" in frame and frame.count("<li>") == 2
    assert "<script" not in frame


def test_tool_results_show_output_and_images() -> None:
    ret = ToolReturnPart("run_python", "[stdout]\n42", tool_call_id="c1",
                         metadata={"stdout": "42\n", "stderr": "", "result": None, "error": None, "timed_out": False})
    att = {"c1": [Attachment("1/2/abc.png", "image/png")]}
    frame = renderer().frame([ToolsFinished(0, 1, ModelRequest(parts=[ret]), att)])
    assert "42" in frame and 'src="/chat/uploads/1/2/abc.png"' in frame


def test_tool_call_block_highlights_the_code() -> None:
    call = ToolCallPart("run_python", {"code": "x = 41"}, tool_call_id="c1")
    frame = renderer().frame([ResponseFinished(0, 0, ModelResponse(parts=[call]))])
    assert "run_python" in frame and "code-block" in frame and "41" in frame


def test_every_top_level_element_of_a_frame_is_an_oob_swap() -> None:
    events = [TurnStarted(0, "hi"), NodeStarted(0, 0), PartStarted(0, 0, 0, "text", "x"), PartDelta(0, 0, 0, "y"),
              ProgressChanged(0, "thinking"), TurnFinished(0, "complete", {"model": "demo"})]
    r = renderer()
    for event in events:
        for fragment in r.fragments(event):
            frame = to_xml(fragment)
            assert "hx-swap-oob" in frame.split(">", 1)[0], frame[:120]
            assert top_level_ids(frame), frame[:120]


def test_a_restore_shows_its_progress_on_the_status_line_and_keeps_the_input_locked() -> None:
    frame = renderer().frame([ProgressChanged(1, "restoring", "re-running cell 3 of 12")])
    assert "Restoring Python state… (re-running cell 3 of 12)" in frame
    assert 'data-running="true"' in frame, "Stop stays available while the restore runs"
