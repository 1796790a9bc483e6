"""A list's items as the open block's pieces (ui/open_block.py), tight or loose.

An item is rendered on its own, as a list of one: in a tight list that is how it shows in the whole list. A loose
list (a blank line between two items, or between two blocks of one item) holds every item's text in paragraphs,
so once the list loosens each item is rendered after a *context*, a loose list's first item (``- x`` and a blank
line), and that first item is taken off again. Whether an item loosens the list is asked of markdown-it, not
guessed from its blank lines (one inside a fence loosens nothing): a *probe* item after it comes out in a
paragraph exactly when the list is loose.
"""

from __future__ import annotations

import re

from ui.markdown import render_markdown
from ui.provisional import MARK, _open_fence, _open_math_block

LIST_START_RE = re.compile(r"(?:([-+*])|[0-9]{1,9}([.)]))(?:[ \t]|$)")
_PROBED = (("<li>x</li>\n", False), ("<li>\n<p>x</p>\n</li>\n", True))  # the probe item, tight or loose


def render(text: str) -> str:
    """What a piece renders as: the whole open text's renderer, the caret mark made harmless."""
    return render_markdown(text.replace(MARK, "\ufffd"), highlight=False)


def between(html: str, head: str, foot: str) -> str | None:
    """``html`` without ``head`` and ``foot`` (final newlines aside), or None if it is not wrapped in them."""
    html, foot = html.rstrip("\n"), foot.rstrip("\n")
    if not html.startswith(head) or not html.endswith(foot) or len(html) < len(head) + len(foot):
        return None
    return html[len(head) : len(html) - len(foot)]


def list_marker(line: str) -> str | None:
    """The bullet (``-``, ``+``, ``*``) or ordered delimiter (``.``, ``)``) a line starts an item with, if it does."""
    m = LIST_START_RE.match(line)
    return None if m is None else (m[1] or m[2])


def probe(marker: str) -> str:
    """An item of a list with this marker: after an item, whether it renders in a paragraph says if the list is loose."""
    return f"{marker if marker in '-+*' else '1' + marker} x\n"


def loose_context(marker: str) -> str:
    """A loose list's first item: an item rendered after it renders as in a loose list."""
    return probe(marker) + "\n"


def loosens(probed: str) -> bool | None:
    """Whether the list that ``probed`` (an item, then a ``probe``) makes is loose; None: it can't tell, as when the
    item ends the list (an empty item and a blank line) and the probe starts a list of its own."""
    split = items_of(render(probed), "")
    if split is None:
        return None
    for probe_li, loose in _PROBED:
        if split[1].endswith(probe_li) and one_item(split[1][: -len(probe_li)]):
            return loose
    return None


def has_blank(text: str) -> bool:
    """A blank line among the complete lines of ``text``."""
    return any(not line.strip(" \t") for line in text.split("\n")[:-1])


def items_of(html: str, context: str) -> tuple[str, str, str] | None:
    """A rendered list split as (its opening tag line, its items without the ``context``'s, its closing tag line)."""
    open_tag, sep, rest = html.partition(">\n")
    close = "</ol>\n" if open_tag.startswith("<ol") else "</ul>\n"
    li = strip_context(rest, context, close)
    return None if not sep or li is None else (open_tag + sep, li, close)


def strip_context(items: str, context: str, close: str) -> str | None:
    """The list items ``items`` (what follows ``<ul>``) without the one the ``context`` rendered, and without ``close``."""
    if context:
        first, sep, items = items.partition("</li>\n")
        if first != "<li>\n<p>x</p>\n" or not sep:
            return None
    return between(items, "", close)


def one_item(li: str) -> bool:
    """``li`` is one list item (``<li>…</li>\\n``), whatever lists it holds."""
    if not li.startswith("<li>") or not li.endswith("</li>\n"):
        return False
    depth = 0
    for m in re.finditer(r"<(/?)li>", li):
        depth += -1 if m[1] else 1
        if depth == 0 and m.end() != len(li) - 1:
            return False
    return depth == 0


def open_construct(item: str) -> bool:
    """A fence or display formula the item leaves open: the whole block's display closing would see it."""
    lines = item.split("\n")
    # Display maths after an item's marker runs on past the item's end (the plugin does not stop there).
    return _open_fence(lines) is not None or _open_math_block(lines) is not None or "$$" in item or "\\[" in item
