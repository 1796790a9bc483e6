"""A page with large pre-rendered parts is streamed with them spliced in: the same bytes as FastHTML's own page,
without the parts going through `to_xml` (which copies them at every level) or one big join."""

from __future__ import annotations

from typing import Any

from fasthtml.common import Div, FastHTML, Main, NotStr, Script, Title, to_xml
from starlette.testclient import TestClient

from app import spliced
from app.spliced import BIG, SLICE, Spliced

TURN = "<div class=\"turn\">" + "río & <b>bold</b> " * (3 * SLICE // 18) + "</div>"  # past one slice; not ASCII


def page(*turns: Any) -> Any:
    return Title("A chat · Varro"), Div(Main(Div("Welcome", *turns, id="turns")), Div("Jump ↓"), id="chat")


def pages(*turns: Any) -> tuple[str, str, dict[str, str]]:
    """The page as FastHTML renders it, and as `Spliced` streams it (and the latter's headers)."""
    def served(route: Any) -> Any:
        app = FastHTML(default_hdrs=False, hdrs=(Script(src="/x.js"),))
        app.get("/chat/1")(route)
        return TestClient(app).get("/chat/1")

    plain, streamed = served(lambda: page(*turns)), served(lambda: Spliced(page(*turns)))
    return plain.text, streamed.text, dict(streamed.headers)


def test_the_streamed_page_is_the_page_fastHTML_renders() -> None:
    small = NotStr("<div>a short turn</div>")
    plain, streamed, headers = pages(NotStr(TURN), small, NotStr(TURN.replace("río", "rio")), small)
    assert streamed == plain and TURN in streamed
    assert headers["content-type"] == "text/html; charset=utf-8" and "content-length" not in headers
    assert headers["vary"] == "HX-Request, HX-History-Restore-Request"


def test_large_parts_never_go_through_to_xml() -> None:
    response = Spliced(page(NotStr(TURN), NotStr("<p>small</p>")))
    rendered = to_xml(response.content)  # what FastHTML is given to render: the large part is a marker now
    assert TURN not in rendered and "<p>small</p>" in rendered and len(rendered) < BIG


async def test_a_large_part_goes_out_a_slice_at_a_time() -> None:
    parts = ["x" * (2 * SLICE + 5)]
    got = [piece async for piece in spliced.slices(["<head>", "<tail>"], parts)]
    assert got == ["<head>", "x" * SLICE, "x" * SLICE, "x" * 5, "<tail>"]


def test_a_page_without_large_parts_is_sent_as_it_is() -> None:
    plain, streamed, _ = pages(NotStr("<p>short</p>"), "text")
    assert streamed == plain
