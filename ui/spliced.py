"""The frames a stream sends most, rendered from an element made once.

A streaming answer sends a frame for nearly every token, and most of them are one element around new text: the
characters appended at the caret (`<span id=… hx-swap-oob="beforeend">…</span>`), or an open block's HTML anew.
Building that element with FT and serialising it costs some 40 us a frame, more than everything else the frame
needs (docs/benchmarks.md, "A frame's own cost"). So the element is still made with FT, once per target, with a
hole where its content goes; each frame is that HTML with the content put in the hole, text escaped exactly as FT
escapes a text child. What leaves is byte for byte what FT makes (`tests/unit/test_spliced.py`).
"""

from __future__ import annotations

from functools import lru_cache
from html import escape

from fasthtml.common import NotStr, Safe, ft_hx, to_xml

HOLE = "\ue003"  # a private-use character no id, tag or swap holds


class Spliced:
    """An element's HTML with a hole for its one child."""

    def __init__(self, tag: str, target: str, swap: str) -> None:
        html = to_xml(ft_hx(tag, NotStr(HOLE), id=target, hx_swap_oob=swap), indent=False)
        self.before, _, self.after = html.partition(HOLE)

    def text(self, text: str) -> Safe:
        """The element around `text`, escaped as FT escapes a text child."""
        return Safe(self.before + escape(text, quote=False) + self.after)

    def html(self, html: str) -> Safe:
        """The element around `html`, which is already safe (rendered and sanitized markdown)."""
        return Safe(self.before + html + self.after)


@lru_cache(maxsize=1024)  # a memo of pure results: a turn's live parts reuse a handful of targets
def spliced(tag: str, target: str, swap: str) -> Spliced:
    return Spliced(tag, target, swap)
