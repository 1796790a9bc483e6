"""Incremental rendering of streamed markdown, one finished top-level block at a time.

``MarkdownBlocks.feed(delta)`` returns the HTML of the top-level blocks that the delta finished;
``finish()`` renders what is left. Every block is rendered exactly once with ``render_markdown``.

Invariant: ``"".join(feed(d1) + feed(d2) + ... + finish()) == render_markdown(d1 + d2 + ...)``,
byte for byte, for every way of splitting the text. That is possible because render_markdown has
no document-wide state (link reference definitions are off, see ui/markdown.py), so a document
rendered whole is the concatenation of its top-level blocks rendered one by one. The only
normalisation: ``\\r\\n`` and ``\\r`` arrive as ``\\n``, exactly as markdown-it reads them.

How a block boundary is found. CommonMark reads a document line by line and never revisits a
closed block, except through a little lookahead (a table needs its delimiter row; a fence or a
list runs until something closes it). So a boundary is certain, whatever text comes next:

* before a line L that follows a blank line, once markdown-it, given the text up to L, starts a
  new top-level block at L (all earlier blocks are closed then; only L's first character is
  needed when it cannot be a list marker or indentation);
* after a top-level ATX/setext heading, thematic break or closed fence (they cannot grow), unless
  the line holds a ``|`` (it could still become a table header);
* after a blank line that follows a top-level paragraph, table, blockquote or closed fence.

Cheap line checks (is this a blank line, a list marker, a fence at column 0...) only decide when
to ask; markdown-it's own parse of the open text always decides. Asking costs a parse of the
open text, so a failed ask is repeated only once the open text has doubled: the total work stays
linear in the length of the stream, and feed() never re-reads finished blocks.
"""

from __future__ import annotations

import re

from markdown_it.token import Token

from ui.markdown import parse_blocks, render_markdown

_LIST_ITEM_RE = re.compile(r" {0,3}(?:[-+*]|[0-9]{1,9}[.)])(?:[ \t]|\n|$)")
_FENCE_OPEN_RE = re.compile(r"( {0,3})(`{3,}|~{3,})([^\n]*)")
_MAYBE_CLOSED_LINE_RE = re.compile(r" {0,3}(?:#{1,6}(?:[ \t]|\n|$)|[-*_=][-*_= \t]*\n?$)")
_INDENTED_RE = re.compile(r" {0,3}\t| {4}")
# A line starting with one of these (or whitespace) might continue an open list; wait for all of it.
_UNSURE_STARTS = frozenset(" \t-+*0123456789")
_SETTLED_AFTER_BLANK = frozenset({"paragraph_open", "table_open", "blockquote_open", "heading_open", "hr"})


def render_blocks(text: str) -> list[str]:
    """The sanitized HTML of each top-level block of ``text``: the blocks a stream of it yields, in one go."""
    blocks = MarkdownBlocks()
    return blocks.feed(text) + blocks.finish()


def _is_blank(line: str) -> bool:
    # markdown-it's notion of blank: only spaces and tabs (not every Unicode space).
    return not line.strip(" \t\n")


def _split_lines(text: str) -> list[str]:
    """Lines ending in "\\n" (the last one may not); only "\\n" separates lines, as in markdown-it."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def _is_fence_closer(line: str, char: str, length: int) -> bool:
    stripped = line.rstrip(" \t\n")
    body = stripped.lstrip(" ")
    return len(stripped) - len(body) <= 3 and len(body) >= length and body == char * len(body)


def _top_level(tokens: list[Token]) -> list[Token]:
    """The opening (or self-contained) tokens of top-level blocks, in order; each has a line map."""
    return [t for t in tokens if t.level == 0 and t.map is not None]


def _block_ranges(blocks: list[Token], below: int | None = None) -> list[tuple[int, int]]:
    """Line ranges of the top-level blocks (those starting before line ``below``, if given)."""
    return [(t.map[0], t.map[1]) for t in blocks if t.map is not None and (below is None or t.map[0] < below)]


class MarkdownBlocks:
    """Feed streamed markdown; get back each top-level block's sanitized HTML once it is finished."""

    def __init__(self) -> None:
        self._lines: list[str] = []  # complete lines of the open text, each ending in "\n"
        self._chars = 0  # total length of self._lines
        self._partial: list[str] = []  # pieces of the incomplete last line (joined once it completes)
        self._partial_chars = 0  # total length of self._partial
        self._partial_asked = False  # the partial line was already tried as the start of a new block
        self._pending_cr = False  # the last delta ended in "\r": a leading "\n" of the next one belongs to it
        self._reset_open()

    def _reset_open(self) -> None:
        self._lines = []
        self._chars = 0
        self._fence: tuple[str, int] | None = None  # a fence opened at column 0 (or with no list around)
        self._has_list = False  # some line of the open text looks like a list item
        self._after_blank = False  # the last line was blank, outside any fence we track
        self._last_indented = False  # the last non-blank line was indented like code
        self._retry_at = 0  # after a failed ask, do not ask again until the open text is this long

    @property
    def tail(self) -> str:
        """The raw text not rendered yet (normalised newlines, leading blank lines dropped)."""
        return "".join(self._lines) + "".join(self._partial)

    @property
    def lines(self) -> list[str]:
        """The complete lines of the tail, each ending in "\\n" (not a copy: read, don't change)."""
        return self._lines

    @property
    def partial(self) -> str:
        """The tail's last, incomplete line ("" after a newline)."""
        if len(self._partial) > 1:
            self._partial[:] = ["".join(self._partial)]
        return self._partial[0] if self._partial else ""

    @property
    def tail_len(self) -> int:
        """``len(self.tail)`` without building it: a streamer checks it after every delta."""
        return self._chars + self._partial_chars

    def feed(self, delta: str) -> list[str]:
        """Append a delta; return the HTML of the blocks it finished, in order."""
        delta = self._normalize_newlines(delta)
        out: list[str] = []
        start = 0
        while (end := delta.find("\n", start)) != -1:
            self._partial.append(delta[start : end + 1])
            line = "".join(self._partial)
            self._partial, self._partial_chars = [], 0
            self._partial_asked = False
            self._on_line(line, out)
            start = end + 1
        if start < len(delta):
            self._partial.append(delta[start:])
            self._partial_chars += len(delta) - start
            self._on_partial(out)
        return out

    def finish(self) -> list[str]:
        """Render whatever is still open, block by block; the object starts over afterwards."""
        text = self.tail
        self._partial, self._partial_chars = [], 0
        self._partial_asked = False
        self._pending_cr = False
        self._reset_open()
        lines = _split_lines(text)
        return [render_markdown("".join(lines[a:b])) for a, b in _block_ranges(_top_level(parse_blocks(text)))]

    # --- line bookkeeping --------------------------------------------------------------------------

    def _normalize_newlines(self, delta: str) -> str:
        if not delta:
            return delta
        if self._pending_cr and delta[0] == "\n":
            delta = delta[1:]  # the "\n" of a "\r\n" split across two deltas
        self._pending_cr = delta.endswith("\r")
        return delta.replace("\r\n", "\n").replace("\r", "\n")

    def _on_line(self, line: str, out: list[str]) -> None:
        blank = _is_blank(line)
        follows_blank = self._after_blank
        if follows_blank and not blank and self._fence is None and line[0] not in " \t":
            if not (self._has_list and _LIST_ITEM_RE.match(line)):  # "- b" after a list: the list goes on
                self._ask_before(line, out)
        if blank and not self._lines:
            return  # blank lines between finished blocks render as nothing
        closed_fence = self._track(line, blank)
        if closed_fence or (
            not blank and self._fence is None and "|" not in line and _MAYBE_CLOSED_LINE_RE.match(line)
        ):
            self._ask_after(out, blank=False)
        elif blank and not follows_blank and self._fence is None and not self._has_list and not self._last_indented:
            self._ask_after(out, blank=True)  # only the first blank line after something asks

    def _on_partial(self, out: list[str]) -> None:
        """A line has begun after a blank line: its first character may already prove a new block starts."""
        if self._partial_asked or not self._after_blank or self._fence is not None or not self._lines:
            return
        first = self._partial[0][0]
        if first in _UNSURE_STARTS:
            return  # wait for the whole line (a list marker? indentation?)
        self._partial_asked = True
        self._ask_before("".join(self._partial), out)

    def _track(self, line: str, blank: bool) -> bool:
        """Append a complete line and update the cheap hints; True if it closed the fence we track."""
        self._lines.append(line)
        self._chars += len(line)
        closed = False
        if self._fence is not None:
            if _is_fence_closer(line, *self._fence):
                self._fence = None
                closed = True
        elif (m := _FENCE_OPEN_RE.match(line)) and not (m[2][0] == "`" and "`" in m[3]):
            # Indented openers may belong to a list item and close with it, so only track them with no list.
            if not m[1] or not self._has_list:
                self._fence = (m[2][0], len(m[2]))
        elif not blank and _LIST_ITEM_RE.match(line):
            self._has_list = True
        if not blank and self._fence is None and not closed:
            self._last_indented = bool(_INDENTED_RE.match(line))
        self._after_blank = blank and self._fence is None
        return closed

    # --- asking markdown-it ------------------------------------------------------------------------

    def _ask_before(self, line_start: str, out: list[str]) -> None:
        """Cut before the line beginning ``line_start`` if markdown-it starts a top-level block there."""
        if self._chars < self._retry_at:
            return
        k = len(self._lines)
        blocks = _top_level(parse_blocks("".join(self._lines) + line_start))
        if any(t.map is not None and t.map[0] == k for t in blocks):
            self._emit(_block_ranges(blocks, below=k), out)
        else:
            self._retry_at = 2 * self._chars

    def _ask_after(self, out: list[str], *, blank: bool) -> None:
        """Cut after the last complete line if the last top-level block can no longer change."""
        if self._chars < self._retry_at:
            return
        n = len(self._lines)
        blocks = _top_level(parse_blocks("".join(self._lines)))
        if blocks and self._settled(blocks[-1], n, blank):
            self._emit(_block_ranges(blocks), out)
        else:
            self._retry_at = 2 * self._chars

    def _settled(self, last: Token, n: int, blank: bool) -> bool:
        assert last.map is not None
        if last.type in ("heading_open", "hr"):
            return True
        if last.type == "fence":
            # An unclosed fence runs to the end of the text; a closed one ends at its closing line.
            closer = self._lines[last.map[1] - 1]
            closed_at_end = last.map[1] - 1 > last.map[0] and _is_fence_closer(closer, last.markup[0], len(last.markup))
            return last.map[1] < n or closed_at_end
        return blank and last.type in _SETTLED_AFTER_BLANK and last.map[1] < n

    def _emit(self, ranges: list[tuple[int, int]], out: list[str]) -> None:
        out.extend(render_markdown("".join(self._lines[a:b])) for a, b in ranges)
        self._reset_open()
