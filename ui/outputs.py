"""Rich cell outputs in the page: HTML (a DataFrame) as a sanitized, size-capped, scrolling table; Plotly charts."""

from __future__ import annotations

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
    return Div(cls="plotly-chart w-full min-h-80 rounded bg-white", data_spec=spec, role="img",
               aria_label="Interactive chart", data_testid="plotly-chart")
