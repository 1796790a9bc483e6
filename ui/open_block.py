"""The open block of a streaming answer, rendered at a cost that does not grow with its length.

``provisional_html`` renders the whole open text: at every flush a table of 2,000 rows is parsed,
rendered and sanitized again, and the page gets all of it again. But the blocks that grow by lines
grow at their end only: a table by rows, a list by items, a fence by lines of code, a paragraph (and a
quote of one paragraph) by lines. Once a row, an item or a line is followed by the next one, nothing that
comes later can change how it renders. So the open text is split into *settled pieces*, each rendered once
and sent once, and the *open piece* (the last row, item or line, with the open syntax closed for display as
``provisional_html`` does it), rendered and sent again with each flush. On the page the open piece is
the element with id ``open_id`` (the last ``<tr>`` or ``<li>``, or a ``<span>`` round a code block's or a
paragraph's last line), and settled pieces are inserted before it. The page then shows exactly what
``provisional_html`` of the whole open text shows (the property test in tests/unit/test_open_block.py).

Each piece is rendered on its own with the context that makes it render as in the whole block (a
table's delimiter row under a header of empty cells, a fence's opening line), and its rendering must have the one shape
it can have in the whole block (one row, one item of a tight list with no fence left open, one line
of a paragraph that no later line can turn into a heading or a table). A list that a blank line makes
loose (its items then hold their text in paragraphs) is rendered again, settled items and all, once: from then
on each item is rendered as the second item of a loose list of two (ui/open_list.py). A quote that a blank
quoted line (``>``) gives a second paragraph is rendered again by its paragraphs, once: from then on a paragraph
settles when the next one starts, and only the open paragraph is rendered per flush (its cost grows with that
paragraph, not with the quote). Anything else (a line that ends the table, a list inside a quote) and the open
text is rendered whole, as before, until the block closes.

Display maths (``$$`` on a line of its own) is typeset whole while it is short, at a cost bounded by the longest
formula ui/maths.py typesets (``MAX_TEX``); past that the formula is shown as its source, whose lines are escaped
text, and it grows by them like a fence.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape, unescape

from ui.markdown import shown_verbatim
from ui.maths import MAX_TEX
from ui.open_list import (
    between,
    has_blank,
    items_of,
    list_marker,
    loose_context,
    loosens,
    one_item,
    open_construct,
    probe,
    render,
)
from ui.open_row import OpenRow
from ui.provisional import (
    _FENCE_RE,
    _LONE_START_RE,
    _TABLE_DELIM_RE,
    MARK,
    provisional_html,
    shows_last_line,
)

_ORDERED_START_RE = re.compile(r"[0-9]{1,9}[.)]")
# Delimiters of inline syntax that may span lines: a paragraph's line settles when it shows none as text.
_SPANNING = frozenset("*_~`$[]")
_TAG_RE = re.compile(r"<[^>]*>")
_QUOTE_BLANK_RE = re.compile(r" {0,3}>[ \t]*\n?")  # a blank line inside a quote: it ends the quote's paragraph
# Display maths past this many characters is surely shown as its source (ui/maths.py); below it, typeset whole.
_SOURCE_FROM = MAX_TEX + 100


@dataclass(frozen=True)
class Whole:
    """The open text rendered whole: the tail's new content."""

    html: str
    caret: bool


@dataclass(frozen=True)
class Grow:
    """Settled pieces to insert before the open piece (``settled``, maybe empty) and the open piece's new content."""

    settled: str
    open_html: str
    caret: bool
    tag: str  # the open piece's element
    wrap: str  # an element that may hold the settled pieces (a <tr> must be parsed inside a table part)


@dataclass
class _Pieces:
    kind: str
    tag: str
    wrap: str
    context: str  # text each piece is rendered after (a table's delimiter row under empty header cells, a fence's opener)
    head: str  # the block's HTML before its first piece
    foot: str  # and after its last
    lines: int  # complete lines of the open text the settled pieces cover
    settled: list[str] = field(default_factory=list)
    item_start: int = 0  # list: the line the open item starts at
    marker: str = ""  # list: the bullet or the ordered delimiter every item shares
    sources: list[str] = field(default_factory=list)  # list: the settled items' text, to render again if it loosens
    page_head: str = ""  # the head the page shows, where pieces are rendered after a cheaper context (a table's)
    row: OpenRow | None = None  # table: the open row, rendered by its cells


def _safe_start(line: str) -> bool:
    """A line that continues a paragraph and cannot end it or turn it into something else."""
    return bool(line) and line[0].isalnum() and not _ORDERED_START_RE.match(line)


def _quoted_safe(line: str) -> bool:
    """A line of a quote's paragraph that is, after its "> ", a line `_safe_start` allows."""
    return line.startswith("> ") and _safe_start(line[2:])


class OpenBlock:
    """The open text of one text part, rendered as settled pieces and an open piece while it can be."""

    def __init__(self, mark_id: str, open_id: str) -> None:
        self.mark_id = mark_id
        self.open_id = open_id
        self._pieces: _Pieces | None = None
        self._whole = False  # this block can't be split: render it whole until it closes
        self._on_page = False  # the page holds the pieces' elements (the last frame was not a whole render)

    def reset(self) -> None:
        """The open text was rendered as finished blocks: a new one starts."""
        self._pieces, self._whole, self._on_page = None, False, False

    def open_text(self, lines: Sequence[str], partial: str) -> str:
        """What decides whether a delta can go in at the caret: the open piece's text, with the context it needs."""
        p = self._pieces
        if p is None or not self._on_page:
            return "".join(lines) + partial
        return p.context + "".join(lines[p.lines :]) + partial

    def render(self, lines: Sequence[str], partial: str) -> Whole | Grow:
        """The tail's update for open text ``lines`` (complete, each ending in "\\n") and ``partial`` (the last line so far)."""
        if not self._whole and (self._pieces is not None or self._start(lines)):
            out = self._grow(lines, partial)
            if out is not None:
                return out
        html, caret = provisional_html("".join(lines) + partial, self.mark_id)
        self._on_page = False
        return Whole(html, caret)

    # --- the kinds of block that can be split -------------------------------------------------------

    def _start(self, lines: Sequence[str]) -> bool:
        """Recognise a block that can be split, from its first lines; False while it is too short to say."""
        if len(lines) < 3:
            return False
        first = lines[0]
        if first.startswith("|") and "-" in lines[1] and _TABLE_DELIM_RE.fullmatch(lines[1].rstrip("\n")):
            head, sep, _ = render(lines[0] + lines[1] + lines[2]).partition("<tbody>\n")
            # A row renders after a header of empty cells: a body row depends only on the header's number of
            # columns and the delimiter row's alignments, and the header's own markup is not parsed at every flush.
            columns = lines[1].strip(" \t\n").strip("|").count("|") + 1
            context = "|" + " |" * columns + "\n" + lines[1]
            empty_head, empty_sep, _ = render(context + lines[2]).partition("<tbody>\n")
            if not sep or not empty_sep:
                return self._give_up()
            self._pieces = _Pieces("table", "tr", "tbody", context, empty_head + empty_sep, "</tbody>\n</table>\n", 2,
                                   page_head=head + sep, row=OpenRow(context, lines[1]))
            return True
        m = _FENCE_RE.match(first)
        if m and m.start(1) == 0 and not (m[1][0] == "`" and "`" in m[2]):
            empty = render(first + m[1] + "\n")
            head, sep, foot = empty.partition("</code>")
            if not sep:
                return self._give_up()
            self._pieces = _Pieces("code", "span", "span", first, head, sep + foot, 1, marker=m[1])
            return True
        if first.rstrip(" \t\n") == "$$":  # display maths: its source shown in a code element once it is long
            head, sep, foot = render("$$\n" + "x" * _SOURCE_FROM + "\n$$\n").partition("x" * _SOURCE_FROM)
            if not sep:
                return self._give_up()
            self._pieces = _Pieces("maths", "span", "span", "", head.removesuffix("\n") + "\n", foot.removeprefix("\n"), 1)
            return True
        if (marker := list_marker(first)) is not None:
            self._pieces = _Pieces("list", "li", "ul", "", "", "", 0, marker=marker)
            return True
        if _safe_start(first):
            self._pieces = _Pieces("para", "span", "span", "", "<p>", "</p>\n", 0)
            return True
        if _quoted_safe(first):  # a quote of one paragraph: its lines, as a paragraph's
            self._pieces = _Pieces("quote", "span", "span", "", "<blockquote>\n<p>", "</p>\n</blockquote>\n", 0)
            return True
        return self._give_up()

    def _give_up(self) -> bool:
        self._pieces, self._whole = None, True
        return False

    def _grow(self, lines: Sequence[str], partial: str) -> Whole | Grow | None:
        p = self._pieces
        assert p is not None
        before = len(p.settled)
        if p.kind == "maths" and not p.settled and sum(map(len, lines)) + len(partial) <= _SOURCE_FROM:
            self._on_page = False  # typeset whole, at a bounded cost, until it is long enough to be its source
            return None
        ok = {"table": self._settle_rows, "code": self._settle_code, "list": self._settle_items,
              "para": self._settle_para, "quote": self._settle_para, "quote paragraphs": self._settle_quote_paras,
              "maths": self._settle_maths}[p.kind](p, lines, partial)
        if not ok:
            self._give_up()
            return None
        opened = self._open_piece(p, lines, partial)
        if opened is None:
            if p.kind in ("para", "quote", "quote paragraphs"):
                self._on_page = False  # perhaps a table or heading is forming: whole, and try again next time
                return None
            self._give_up()
            return None
        open_html, caret = opened
        if not self._on_page:
            self._on_page = True
            after = "\n" if p.tag in ("tr", "li", "p") else ""  # as markdown-it ends a row, an item or a paragraph
            whole = (f"{p.page_head or p.head}{''.join(p.settled)}<{p.tag} id=\"{self.open_id}\">{open_html}</{p.tag}>"
                     f"{after}{p.foot}")
            return Whole(whole, caret)
        return Grow("".join(p.settled[before:]), open_html, caret, p.tag, p.wrap)

    def _settle_rows(self, p: _Pieces, lines: Sequence[str], partial: str) -> bool:
        for line in lines[p.lines : self._open_from(lines, partial)]:
            if _opens_display(line):
                return False
            row = (p.row and p.row.settle(line)) or between(render(p.context + line), p.head, p.foot)
            if row is None or not row.startswith("<tr>") or row.count("<tr>") != 1:
                return False
            p.settled.append(row)
            p.lines += 1
        return True

    def _settle_code(self, p: _Pieces, lines: Sequence[str], partial: str) -> bool:
        char, length = p.marker[0], len(p.marker)
        for line in lines[p.lines :]:
            body = line.rstrip(" \t\n")
            if len(body) - len(body.lstrip(" ")) <= 3 and len(body.strip()) >= length and set(body.strip()) == {char}:
                return False  # a closing line: the block is about to be rendered as finished
            code = between(render(p.context + line + char * length + "\n"), p.head, p.foot)
            if code is None:
                return False
            p.settled.append(code)
            p.lines += 1
        return True

    def _settle_maths(self, p: _Pieces, lines: Sequence[str], partial: str) -> bool:
        for line in lines[p.lines :]:
            if not _maths_line(line.rstrip("\n")):
                return False
            p.settled.append(escape(line, quote=False))
            p.lines += 1
        return True

    def _settle_items(self, p: _Pieces, lines: Sequence[str], partial: str) -> bool:
        starts = [i for i in range(p.item_start + 1, len(lines)) if list_marker(lines[i]) == p.marker]
        if len(lines) > p.item_start and list_marker(partial) == p.marker and not _LONE_START_RE.fullmatch(partial):
            starts.append(len(lines))
        for start in starts:
            item = "".join(lines[p.item_start : start])
            # An item that ends in a blank line, or holds one between its blocks, makes the whole list loose.
            if not p.context and has_blank(item) and not self._loosen_if(p, item + probe(p.marker)):
                return False
            html = render(p.context + item)
            split = items_of(html, p.context)
            if split is None or not one_item(split[1]) or open_construct(item):
                return False
            list_open, li, close = split
            if not p.settled:  # the first item's number starts the list (the context's would start it at 1)
                p.head, p.foot = (render(item).partition(">\n")[0] + ">\n" if p.context else list_open), close
            elif not html.startswith(p.head[:3]):
                return False
            p.settled.append(li)
            p.sources.append(item)
            p.item_start = p.lines = start
        # The open item loosens the list once a block follows a blank line in it (a blank line at its end may yet
        # end the list, and an item must follow it to count). A first item shows alone, loose or not, as it is.
        if not p.sources or p.context:
            return True
        shown = "".join(lines[p.item_start :]) + (partial if shows_last_line(partial) else "")  # as displayed
        open_item = shown.rstrip(" \t\n") + "\n"
        return not has_blank(open_item) or self._loosen_if(p, open_item + probe(p.marker))

    def _loosen_if(self, p: _Pieces, probed: str) -> bool:
        """If ``probed`` makes a loose list, render the settled items again as loose ones, and from now on every
        item after a loose list's first item (ui/open_list.py). False: it can't tell."""
        loose = loosens(probed)
        if not loose:
            return loose is not None
        p.context = loose_context(p.marker)
        p.settled.clear()
        for source in p.sources:
            split = items_of(render(p.context + source), p.context)
            if split is None or not one_item(split[1]):
                return False
            p.settled.append(split[1])
        self._on_page = False  # every item changed: the next frame renders them all
        return True

    def _settle_para(self, p: _Pieces, lines: Sequence[str], partial: str) -> bool:
        if p.kind == "quote" and any(_QUOTE_BLANK_RE.fullmatch(line) for line in lines[p.lines :]):
            # A second paragraph: the quote is rendered again by its paragraphs, and grows by them from now on.
            p.kind, p.tag, p.wrap, p.head, p.foot, p.lines = "quote paragraphs", "p", "div", "<blockquote>\n", "</blockquote>\n", 0
            p.settled.clear()
            self._on_page = False
            return self._settle_quote_paras(p, lines, partial)
        # A line settles once the next one is there and safe: nothing later can make it a heading or a table's header.
        safe = _safe_start if p.kind == "para" else _quoted_safe
        while p.lines + 1 < len(lines) and safe(lines[p.lines + 1]):
            line = lines[p.lines]
            if not safe(line):
                break
            inner = between(render(line), p.head, p.foot)
            # Every delimiter of the line used up in it (none left as text): no later line can pair with one.
            if inner is None or "<p>" in inner or _SPANNING.intersection(unescape(_TAG_RE.sub("", inner))):
                break
            p.settled.append(inner + "<br>\n")
            p.lines += 1
        return True

    def _settle_quote_paras(self, p: _Pieces, lines: Sequence[str], partial: str) -> bool:
        """A quote's paragraph settles once a blank quoted line has ended it and the next paragraph has begun."""
        def blank(i: int) -> bool:
            return bool(_QUOTE_BLANK_RE.fullmatch(lines[i]))

        begun = partial.strip(" \t>") != ""
        at = p.lines
        while at < len(lines):
            end = next((i for i in range(at, len(lines)) if blank(i)), None)
            if end is None:
                break
            nxt = next((i for i in range(end, len(lines)) if not blank(i)), len(lines) if begun else None)
            if nxt is None:
                break  # the next paragraph has not begun: the last one is still the open piece
            if end > at:
                inner = between(render("".join(lines[at:end])), p.head, p.foot)
                if inner is None or not inner.startswith("<p>") or not inner.endswith("</p>\n") or inner.count("<p>") != 1:
                    return False  # not a paragraph (a list, a heading inside the quote): whole, as before
                p.settled.append(inner)
            at = p.lines = nxt
        return True

    @staticmethod
    def _open_from(lines: Sequence[str], partial: str) -> int:
        """The first line of the open piece: the partial line once it shows something, else the last complete line."""
        return len(lines) if partial and not _LONE_START_RE.fullmatch(partial) else len(lines) - 1

    def _open_piece(self, p: _Pieces, lines: Sequence[str], partial: str) -> tuple[str, bool] | None:
        """The open piece's content (inside its element) and whether it holds the caret; None if it is not one piece."""
        if p.row is not None and (by_cells := p.row.render("".join(lines[p.lines :]) + partial, self.mark_id)):
            return by_cells
        if p.kind == "maths":  # the line being written, as the source shows it; a dollar may be the closer: whole
            if partial and not _maths_line(partial):
                return None
            return escape(partial, quote=False) + "\n" if partial else "", False
        html, caret = provisional_html(p.context + "".join(lines[p.lines :]) + partial, self.mark_id)
        if p.kind == "list":
            split = items_of(html, p.context)
            if split is None or not one_item(split[1]):
                return None
            if not p.settled:
                p.head, p.foot = split[0], split[2]  # the first item's number starts the list
            return split[1][4:-6], caret
        inner = between(html, p.head, p.foot)
        if inner is None or (p.kind in ("para", "quote") and "<p>" in inner):
            return None
        if p.kind == "quote paragraphs":
            one = inner.startswith("<p>") and inner.endswith("</p>\n") and inner.count("<p>") == 1
            return (inner[3:-5], caret) if one else None
        if p.kind == "table":
            if _opens_display("".join(lines[p.lines :]) + partial):
                return None
            return (inner[4:-6], caret) if (
                inner.startswith("<tr>") and inner.endswith("</tr>\n") and inner.count("<tr>") == 1) else None
        return inner, caret


def _opens_display(line: str) -> bool:
    """``line`` opens what the open text's display closes as a block of its own (a fence, display maths): rendered
    alone, as a row, it would not show what the whole shows."""
    return bool(_FENCE_RE.match(line)) or line.strip().startswith(("$$", "\\["))


def _maths_line(line: str) -> bool:
    """``line`` shows as itself in a formula's source: not blank (a blank line ends the formula), no dollar (it may
    close it), no fence's opening (the open text's display would take it for one), nothing markdown-it normalises."""
    return (bool(line.strip()) and "$" not in line and MARK not in line and not _FENCE_RE.match(line)
            and shown_verbatim(line))
