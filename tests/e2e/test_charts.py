"""Plotly figures as interactive charts, drawn by the page's own plotly.js under its Content-Security-Policy."""

from __future__ import annotations

from playwright.sync_api import ConsoleMessage, Page, expect

from tests.e2e.conftest import wait_socket
from tests.e2e.helpers import py, send, wait_turn_done

CSP_WATCH = """window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective + " " + e.blockedURI));"""

FIGURE = "import plotly.express as px\nfig = px.scatter(x=[1, 2, 3], y=[4, 1, 6], title='Points')\nfig.show()"


def test_a_plotly_figure_is_an_interactive_chart_with_no_csp_violation(new_chat: Page) -> None:
    page = new_chat
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if isinstance(m, ConsoleMessage) else None)
    page.add_init_script(CSP_WATCH)
    page.reload()
    wait_socket(page)
    assert page.locator("script[src*=plotly]").count() == 0  # loaded only once a chart is on the page
    send(page, py(FIGURE))
    wait_turn_done(page, 0, timeout=90_000)
    chart = page.locator("#assistant-0 [data-testid=plotly-chart]")
    expect(chart).to_have_attribute("data-drawn", "true", timeout=20_000)
    expect(chart.locator(".main-svg").first).to_be_visible()
    expect(chart).to_contain_text("Points")
    point = chart.locator(".scatterlayer .point").nth(1)
    box = point.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    hover = chart.locator(".hoverlayer .hovertext")
    expect(hover).to_have_count(1)
    expect(hover).to_contain_text("1")  # the point (2, 1)
    assert page.evaluate("window.__csp") == []
    assert not [m for m in console if "Content Security Policy" in m or "strict CSP" in m], console
    page.reload()  # drawn again from what was stored
    wait_socket(page)
    expect(page.locator("#assistant-0 [data-testid=plotly-chart]")).to_have_attribute("data-drawn", "true")
