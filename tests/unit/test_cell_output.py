"""A running cell's output on the page: where it streams, and what a stopped cell keeps."""

from __future__ import annotations

import pytest
from fasthtml.common import to_xml
from pydantic_ai.messages import ModelRequest, ModelResponse, ToolCallPart, ToolReturnPart

from app.render import Renderer
from tests.security.xss_corpus import XSS_PAYLOADS
from tests.unit.html_safety import assert_safe
from ui.nodes import ToolResult
from ui.outputs import HtmlOutput
from varro.chat.events import CELL_OUTPUT, CellStarted, NodeStarted, PartDelta, TurnStarted
from varro.chat.history import closed, keep_printed
from varro.shell.result import FRAMING_CHARS, MAX_TEXT_CHARS, CellResult, OutputCollector, truncation_note


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


DATAFRAME = ('<div><style scoped>.dataframe tbody tr th { color: red }</style><table border="1" class="dataframe" '
             'onclick="alert(1)"><thead><tr><th></th><th>amount</th></tr></thead><tbody>'
             '<tr><th>count</th><td>10000.0</td></tr><tr><th>mean</th><td>4999.5</td></tr></tbody></table>'
             '<script>alert(2)</script><img src=x onerror="alert(3)"></div>')


def test_an_html_output_is_a_sanitized_table() -> None:
    html = to_xml(HtmlOutput(DATAFRAME))
    assert "<table>" in html and "<td>4999.5</td>" in html and "<th>mean</th>" in html
    for bad in ("<script", "alert", "onclick", "onerror", "<style", "<img", "color: red"):
        assert bad not in html, bad
    assert "html-truncated" not in html


def test_a_long_html_output_is_cut_with_a_note() -> None:
    rows = "".join(f"<tr><td>{i}</td></tr>" for i in range(20_000))
    html = to_xml(HtmlOutput(f"<table><tbody>{rows}</tbody></table>", limit=50_000))
    assert len(html) < 60_000
    assert "<td>0</td>" in html and "<td>19999</td>" not in html
    assert html.count("<table>") == 1 and "</table>" in html  # the cut table is closed again
    assert "Truncated:" in html


def test_a_dataframe_value_shows_as_its_table_and_the_model_reads_bounded_text() -> None:
    collector = OutputCollector()
    plain = "        amount\ncount  10000.0\n" + "x" * 50_000
    collector.feed("execute_result", {"data": {"text/plain": plain, "text/html": DATAFRAME}})
    collector.feed("stream", {"name": "stdout", "text": "y" * 50_000})
    result = collector.build()
    assert result.result_html
    assert len(result.to_text()) <= MAX_TEXT_CHARS + FRAMING_CHARS + 100  # the cap, its framing and its note
    ret = ToolReturnPart("run_python", result.to_text(), "c1", metadata=result.to_dict())
    page = to_xml(ToolResult(ret, [], lambda p: p))
    assert "<td>4999.5</td>" in page and "count  10000.0" not in page


def test_a_plotly_figure_is_kept_as_json_and_rendered_inert() -> None:
    collector = OutputCollector()
    figure = {"data": [{"type": "bar", "x": ["a"], "y": [1], "name": '"></div><script>alert(1)</script>'}]}
    collector.feed("display_data", {"data": {"application/vnd.plotly.v1+json": figure, "text/html": "<div>big</div>"}})
    result = collector.build()
    assert len(result.charts) == 1 and result.html == []  # the chart, not its HTML form
    assert "[interactive Plotly chart shown to the user]" in result.to_text()
    ret = ToolReturnPart("run_python", result.to_text(), "c1", metadata=result.to_dict())
    page = to_xml(ToolResult(ret, [], lambda p: p))
    assert 'data-testid="plotly-chart"' in page and "<script>" not in page  # the JSON is an attribute's text


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_xss_payload_as_a_cells_html_output_is_inert(payload: str) -> None:
    """What `display(HTML(...))` of each payload puts in the page: the markdown allow-list, nothing more."""
    body = to_xml(HtmlOutput(f"<div><table><tr><td>{payload}</td></tr></table>{payload}</div>"))
    inner = body.split('class="html-output prose max-w-none overflow-auto max-h-96 text-xs">', 1)[1].rsplit("</div>", 2)[0]
    assert_safe(inner)


def test_the_model_reads_how_much_a_huge_print_lost() -> None:
    """A cell that printed a gigabyte: the kernel kept its first characters and said how many it cut; the model's
    text keeps that note rather than cutting it off and reporting a few characters missing."""
    result = CellResult(stdout="x" * MAX_TEXT_CHARS + truncation_note(1_073_721_824))
    text = result.to_text()
    assert text.endswith("[output truncated: 1073721824 more characters]")
    assert len(text) <= MAX_TEXT_CHARS + FRAMING_CHARS

