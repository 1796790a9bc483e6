"""Rough edges of the page in Chromium: long things stay inside their cards, at desktop and phone sizes."""

from __future__ import annotations

from pathlib import Path

import pytest
from fasthtml.common import Body, Div, Html, to_xml
from playwright.sync_api import Page, expect
from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart

from ui.turns import MessageBlocks, NoticeBlock, StoredTurn

CSS = Path(__file__).resolve().parents[2] / "static" / "vendor" / "app.css"


def show(page: Page, *blocks: object, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 800})
    page.set_content(to_xml(Html(Body(Div(*blocks, cls="max-w-3xl mx-auto p-2", id="card")))))
    page.add_style_tag(content=CSS.read_text())


@pytest.mark.parametrize("width", [390, 1280])
def test_a_cut_off_tool_call_stays_inside_its_card(page: Page, width: int) -> None:
    """The cap cut the call mid-string: one long line of JSON, which must wrap, not widen the page."""
    args = '{"code": "data = [' + ", ".join(f"{i} * 3.14159" for i in range(400))
    call = ToolCallPart("run_python", args, "call-x")
    show(page, *MessageBlocks(0, [ModelResponse(parts=[call])], {}, lambda p: p), width=width)
    shown = page.get_by_test_id("cut-off-args")
    assert "399 * 3.14159" in shown.inner_text()
    card = page.locator("#card").bounding_box()
    box = shown.bounding_box()
    assert card is not None and box is not None
    assert box["x"] + box["width"] <= card["x"] + card["width"] + 1
    assert page.evaluate("document.documentElement.scrollWidth") <= width


CONTRAST = """(el) => {
  const rgb = (color, under) => {  // any CSS colour, over `under`, as sRGB bytes (canvas resolves oklch and alpha)
    const c = document.createElement("canvas").getContext("2d");
    c.fillStyle = under; c.fillRect(0, 0, 1, 1); c.fillStyle = color; c.fillRect(0, 0, 1, 1);
    return [...c.getImageData(0, 0, 1, 1).data.slice(0, 3)];
  };
  const lum = (c) => { const [r, g, b] = c.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
                       return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const page = getComputedStyle(document.body).backgroundColor;
  const bg = rgb(getComputedStyle(el).backgroundColor, rgb(page, "#fff").length ? `rgb(${rgb(page, "#fff")})` : "#fff");
  const fg = rgb(getComputedStyle(el.querySelector("span")).color, `rgb(${bg})`);
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_notice_is_readable(page: Page, scheme: str) -> None:
    """A restore's notice: its text at 4.5:1 or more on its tint (WCAG AA), in either theme."""
    page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
    show(page, NoticeBlock("The shell was restored from a snapshot; these names could not be kept: f, xw."), width=1280)
    ratio = page.get_by_test_id("notice").evaluate(CONTRAST)
    assert ratio >= 4.5, ratio


def test_a_stored_notice_sits_where_the_live_one_did() -> None:
    """Live, a restore's notice comes after the tool step whose cell needed it, before the answer's text: so after
    a reload."""
    call = ToolCallPart("run_python", {"code": "df.head()"}, "c1")
    messages = [ModelResponse(parts=[call]), ModelRequest(parts=[ToolReturnPart("run_python", "OUTPUT-HERE", "c1")]),
                ModelResponse(parts=[TextPart("ANSWER-HERE")])]
    meta = {"notices": [{"message": "NOTICE-HERE", "refs": [], "node": 1}], "duration_ms": 5}
    html = to_xml(StoredTurn(0, "hi", "complete", messages, {}, meta, lambda p: p))
    assert html.index("OUTPUT-HERE") < html.index("NOTICE-HERE") < html.index("ANSWER-HERE")


DRAG = """([kind, related]) => {
  const dt = new DataTransfer();
  dt.items.add(new File(["region,sales\\nnorth,12\\n"], "sales.csv", { type: "text/csv" }));
  const target = document.querySelector("#chat-turns");
  target.dispatchEvent(new DragEvent(kind, { dataTransfer: dt, bubbles: true, cancelable: true,
                                             relatedTarget: related ? document.querySelector(related) : null }));
}"""


def test_dragging_a_file_over_the_chat_shows_where_it_goes(new_chat: Page) -> None:
    page = new_chat
    hint = page.get_by_test_id("drop-hint")
    expect(hint).to_be_hidden()
    page.evaluate(DRAG, ["dragover", None])
    expect(hint).to_be_visible()
    expect(hint).to_contain_text("Drop files")
    page.evaluate(DRAG, ["dragleave", "#chat-input"])  # onto another part of the chat: still over it
    expect(hint).to_be_visible()
    page.evaluate(DRAG, ["dragleave", None])  # out of the window
    expect(hint).to_be_hidden()
    page.evaluate(DRAG, ["dragover", None])
    page.evaluate(DRAG, ["drop", None])
    expect(hint).to_be_hidden()
    expect(page.locator("#chat-attachments")).to_contain_text("sales.csv")
