"""A streamed frame spliced into an element made once (ui/spliced.py) is byte for byte what FT makes of the same
element, for any text or HTML and any of the targets and swaps a stream uses."""

from __future__ import annotations

from fasthtml.common import NotStr, Span, ft_hx, to_xml
from hypothesis import given
from hypothesis import strategies as st

from ui import ids
from ui.nodes import Append, Delta, OpenPiece, TailHtml

TARGETS = st.sampled_from([ids.caret(0, 1, 2), ids.part(3, 0, 1), ids.open_piece(12, 4, 0), "x-y"])
SWAPS = st.sampled_from(["beforeend", "innerHTML", "beforebegin"])
TAGS = st.sampled_from(["span", "div", "tbody", "ul", "li", "tr"])


@given(st.text(), TARGETS)
def test_appended_text_is_what_ft_makes(text: str, target: str) -> None:
    assert Append(target, text) == to_xml(Span(text, id=target, hx_swap_oob="beforeend"), indent=False)


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))), st.integers(0, 30))
def test_a_delta_is_what_ft_makes(text: str, k: int) -> None:
    assert Delta(k, 0, 1, text) == to_xml(Span(text, id=ids.part(k, 0, 1), hx_swap_oob="beforeend"), indent=False)


@given(st.text(), TARGETS, TAGS, SWAPS)
def test_html_put_in_is_what_ft_makes(html: str, target: str, tag: str, swap: str) -> None:
    assert OpenPiece(target, tag, html, swap) == to_xml(ft_hx(tag, NotStr(html), id=target, hx_swap_oob=swap),
                                                        indent=False)


def test_a_tail_is_the_parts_inner_html() -> None:
    assert TailHtml(1, 2, 3, "<p>a &amp; b</p>") == f'<div hx-swap-oob="innerHTML" id="{ids.part(1, 2, 3)}"><p>a &amp; b</p></div>'
