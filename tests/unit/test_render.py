"""Events to fragments: ids unique across responses, text escaped, frames made of id'd OOB elements."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from fasthtml.common import to_xml
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart

from app.render import Renderer, stored_turn
from app.urls import ChatUrls
from ui.turns import ErrorBlock, UserBubble
from varro.chat.content import Attachment, build_content
from varro.chat.events import (
    NodeStarted,
    PartDelta,
    PartStarted,
    ProgressChanged,
    ResponseFinished,
    ShellChanged,
    ToolsFinished,
    TurnFinished,
    TurnStarted,
)
from varro.db.models import Turn


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


def test_interrupted_stopped_and_failed_use_the_pages_icons_not_emoji() -> None:
    """A machine without an emoji font drew "⏱ Interrupted" as an empty box: the page's own SVG icons instead."""
    for meta in ({"stdout": "1\n", "timed_out": True}, {"stdout": "1\n", "stopped": True}):
        ret = ToolReturnPart("run_python", "[stdout]\n1", tool_call_id="c1", metadata=meta)
        frame = renderer().frame([ToolsFinished(0, 1, ModelRequest(parts=[ret]), {})])
        assert ("Interrupted" in frame) == ("timed_out" in meta) and "<svg" in frame
        assert not any(0x2300 <= ord(c) <= 0x23FF or 0x2600 <= ord(c) <= 0x27BF or ord(c) >= 0x1F000 for c in frame)
    error = to_xml(ErrorBlock("The model provider failed."))
    assert "<svg" in error and "⚠" not in error


def test_a_fenced_code_block_in_the_users_message_shows_as_code() -> None:
    text = "Load the data please\n```python\nimport pandas as pd\nx = '<b>'\n```\nthen *plot* it <i>now</i>"
    html = to_xml(UserBubble(0, text))
    shown = html.split('data-testid="user-text-0"', 1)[1].split("</div>", 1)[0]
    assert "```" not in shown and 'data-testid="user-code"' in shown and 'class="hl-kn">import' in shown
    assert "Load the data please" in shown and "then *plot* it &lt;i&gt;now&lt;/i&gt;" in shown  # the rest as typed
    assert "<b>" not in shown and "<i>" not in shown
    assert text in html.replace("&#x27;", "'").replace("&lt;", "<").replace("&gt;", ">"), "the editor keeps it raw"


def test_the_shell_badge_names_what_the_shell_holds() -> None:
    badge = renderer().frame([ShellChanged("idle", ("df", "fig", "rows"))])
    assert 'data-status="idle"' in badge and 'title="The Python shell of this chat, holding df, fig, rows"' in badge
    many = renderer().frame([ShellChanged("idle", tuple(f"n{i:02}" for i in range(20)))])
    assert "holding n00, n01" in many and "n11 and 8 more" in many and "n12" not in many
    assert 'title="The Python shell of this chat"' in renderer().frame([ShellChanged("not started")])


def test_a_restores_offer_has_its_button_in_the_chat_but_not_on_a_shared_page() -> None:
    notice = {"message": "The snapshot could not keep squares", "refs": [[0, "hi"]], "node": 0, "offer": True}
    content = build_content("hi", datetime.now(UTC), [ModelResponse(parts=[TextPart("ok")])], {}, {"notices": [notice]})
    turn = Turn(chat_id=1, idx=1, user_text="hi", status="complete", content=content)
    own = to_xml(stored_turn(ChatUrls(), turn))
    assert 'data-testid="rerun-cells"' in own and 'value="rerun"' in own
    shared = to_xml(stored_turn(ChatUrls(), turn, image_url=lambda path: f"/shared/{path}"))
    assert "could not keep squares" in shared and "rerun" not in shared
