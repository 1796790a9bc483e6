"""A table's open row rendered by its cells: the finished ones once, the one being written at each flush.

A body row of a markdown table is a row of cells, each an inline container of its own: markdown-it splits the row
at its unescaped pipes (``escapedSplit``) and renders each cell's content alone, with its column's alignment. So a
cell renders the same in a one-column table under its column's delimiter as in the whole row, and a row's cells
can be rendered apart. While a row is written only its last cell grows; the cells before it are finished the moment
a pipe follows them. Rendering only the open cell at each flush (a row of four cells costs about a quarter of the
whole row) keeps a table's token near a paragraph's.

It applies only to a row that begins with a pipe (nothing else can begin there: no quote, list or code) and only
while ``provisional_html``'s display of the row (the caret, closers for open syntax) changes the open cell alone;
anything else, and ``None`` sends the caller back to rendering the whole row.
"""

from __future__ import annotations

from markdown_it.common.utils import MD_TRIM_CHARS
from markdown_it.rules_block.table import escapedSplit

from ui.markdown import render_inline, render_markdown, shown_verbatim
from ui.provisional import MARK, close_for_display

_HEAD = "<tbody>\n<tr>\n"
_FOOT = "\n</tr>\n</tbody>"


class OpenRow:
    """The rows of one table, by their cells: ``context`` is what a row is displayed after (the probe header and the
    delimiter row), ``delimiter`` the table's delimiter row, which gives the columns and their alignments."""

    def __init__(self, context: str, delimiter: str) -> None:
        self._context = context  # what the whole row is displayed after (the table's probe header)
        cells = escapedSplit(delimiter.strip())
        self._delims = [c.strip() for c in cells[1 if cells and not cells[0].strip() else 0 :]]
        if self._delims and not self._delims[-1]:
            self._delims.pop()
        self._finished: dict[tuple[int, str], str] = {}  # (column, raw cell) -> its <td>
        self._open_tags: dict[int, str] = {}  # column -> its <td …> (the alignment, as the sanitizer writes it)

    def render(self, row: str, mark_id: str) -> tuple[str, bool] | None:
        """The open row's content inside its ``<tr>`` and whether it holds the caret, as ``provisional_html`` of the
        table shows it; None when it must be rendered whole."""
        if not row.startswith("|") or "\n" in row.rstrip("\n") or not shown_verbatim(row.rstrip("\n")) or not self._delims:
            return None  # a line that may not continue the table (a quote, a list, code), or one markdown-it rewrites
        display = close_for_display(self._context + row.replace(MARK, "\ufffd"))
        shown = display.text[display.text.rfind("\n") + 1 :]
        cells, ends_open = _raw_cells(shown)
        written, _ = _raw_cells(row.rstrip("\n").replace(MARK, "\ufffd"))
        finished = cells[:-1] if ends_open else cells
        if not cells or len(cells) > 64 or finished != written[: len(finished)]:
            return None  # the display changed a finished cell (it closes what one opened): the row renders whole
        tds = [self._cell(i, cell) for i, cell in enumerate(finished[: len(self._delims)])]
        caret = False
        if ends_open and len(finished) < len(self._delims):
            td = self._td(len(finished), cells[-1])
            if td is None:
                return None
            at = td.find(MARK)
            caret = (display.exact and at != -1 and td.count(MARK) == 1 and td.rfind("<", 0, at) < td.rfind(">", 0, at)
                     and td.rfind("<math", 0, at) <= td.rfind("</math>", 0, at))
            tds.append(td.replace(MARK, f'<span id="{mark_id}"></span>' if caret else ""))
        tds += [self._cell(i, "") for i in range(len(tds), len(self._delims))]
        if any(td is None for td in tds):
            return None
        return "\n" + "\n".join(td for td in tds if td is not None) + "\n", caret

    def settle(self, line: str) -> str | None:
        """The finished row ``line`` as the whole table renders it (``<tr>…</tr>\\n``), from the cells its open
        rendering already holds; None when it must be rendered whole."""
        row = line.rstrip("\n")
        if not row.startswith("|") or "\n" in row or not shown_verbatim(row) or not self._delims:
            return None
        cells, _ = _raw_cells(row)
        if len(cells) > 64:
            return None
        tds = [self._cell(i, cell) for i, cell in enumerate(cells[: len(self._delims)])]
        tds += [self._cell(i, "") for i in range(len(tds), len(self._delims))]
        self._finished = {k: v for k, v in self._finished.items() if k[1] == ""}  # the next row's cells are its own
        if any(td is None for td in tds):
            return None
        return "<tr>\n" + "\n".join(td for td in tds if td is not None) + "\n</tr>\n"

    def _cell(self, column: int, raw: str) -> str | None:
        key = (column, raw)
        if key not in self._finished:
            td = self._td(column, raw)
            if td is None:
                return None
            self._finished[key] = td
        return self._finished[key]

    def _td(self, column: int, raw: str) -> str | None:
        """The ``<td>`` of ``raw`` (a cell as the row holds it) in column ``column``: its column's opening tag (from a
        one-column table, once), and its content as markdown-it takes it (escaped pipes unescaped, trimmed), inline."""
        if column not in self._open_tags:
            html = render_markdown(f"| |\n|{self._delims[column]}|\n|\n", highlight=False)
            start, end = html.find(_HEAD), html.rfind(_FOOT)
            empty = html[start + len(_HEAD) : end] if start != -1 and end != -1 else ""
            if not (empty.startswith("<td") and empty.endswith("></td>")):
                return None
            self._open_tags[column] = empty.removesuffix("</td>")
        content = escapedSplit(raw)[0].strip(MD_TRIM_CHARS)
        return self._open_tags[column] + (render_inline(content) if content else "") + "</td>"


def _raw_cells(row: str) -> tuple[list[str], bool]:
    """The row's cells as they are written (escaped pipes kept), split as markdown-it's ``escapedSplit`` splits; and
    whether the last one is open (no pipe after it yet)."""
    text = row.strip(" \t")
    cells, start, escaped = [], 0, False
    for i, ch in enumerate(text):
        if ch == "|" and not escaped:
            cells.append(text[start:i])
            start = i + 1
        escaped = ch == "\\"
    cells.append(text[start:])
    if cells and cells[0] == "" and text.startswith("|"):
        cells.pop(0)
    ends_open = bool(cells) and cells[-1] != ""
    if not ends_open and cells:
        cells.pop()
    return cells, ends_open
