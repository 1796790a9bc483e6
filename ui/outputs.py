"""Rich cell outputs in the page: a DataFrame as a grid (sort, filter, CSV), other HTML as a sanitized, size-capped,
scrolling table; Plotly charts."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fasthtml.common import Div, NotStr, P

from ui.markdown import sanitize_html

# What one HTML output may put in the page: a DataFrame's default 60 rows are about 10,000 characters.
PAGE_HTML_CHARS = 100_000


def HtmlOutput(html: str, limit: int = PAGE_HTML_CHARS) -> Any:
    """An HTML output through the markdown allow-list (tables, text; no script, style or attributes that act),
    scrolling inside its box; past `limit` it is cut (the sanitizer closes what the cut left open) and says so."""
    cut = len(html) > limit
    body = sanitize_html(html[:limit] if cut else html)
    note = P(f"Truncated: {len(html) - limit:,} more characters of this output are not shown.",
             cls="text-xs opacity-70", data_testid="html-truncated") if cut else None
    return Div(Div(NotStr(body), cls="html-output prose max-w-none overflow-auto max-h-96 text-xs"), note,
               data_testid="html-output")


def PlotlyChart(spec: str) -> Any:
    """A Plotly figure's JSON in a data attribute (escaped as any attribute; never a script): chart.js draws it with
    the page's own plotly.js, loaded only once a chart is on the page."""
    # The height plotly.js draws at when the figure sets none (charts.js sizes the box to one that does): the box is
    # that size before the library loads, so drawing it moves nothing on the page.
    return Div(cls="plotly-chart w-full h-[450px] rounded bg-white", data_spec=spec, role="img",
               aria_label="Interactive chart", data_testid="plotly-chart")


def DataGrid(spec: str, html: str | None = None) -> Any:
    """A table's rows as JSON in a data attribute (escaped as any attribute): tables.js draws a grid from them with
    the page's own Grid.js, loaded only once a table is on the page. Until then, and without scripts, the same frame
    shows as its HTML."""
    return Div(HtmlOutput(html) if html else None, cls="data-grid", data_table=spec, data_testid="data-grid")


def _html_index(spec: str) -> int:
    try:
        index = json.loads(spec).get("html", -1)
    except (ValueError, AttributeError):
        return -1
    return index if isinstance(index, int) else -1


def RichOutputs(meta: Mapping[str, Any]) -> list[Any]:
    """A cell's HTML outputs, charts and grids, in that order; an HTML output that has a grid shows as the grid."""
    html = [h for h in meta.get("html", []) if isinstance(h, str)]
    grids = {_html_index(t): t for t in meta.get("tables", []) if isinstance(t, str)}
    standalone = [t for t in meta.get("tables", []) if isinstance(t, str) and not 0 <= _html_index(t) < len(html)]
    return ([DataGrid(grids[i], h) if i in grids else HtmlOutput(h) for i, h in enumerate(html)]
            + [DataGrid(t) for t in standalone]
            + [PlotlyChart(c) for c in meta.get("charts", []) if isinstance(c, str)])
