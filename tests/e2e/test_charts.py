"""Plotly figures as interactive charts, drawn by the page's own plotly.js under its Content-Security-Policy."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import ConsoleMessage, Locator, Page, expect

from tests.e2e.conftest import wait_socket
from tests.e2e.helpers import CSP_WATCH, py, send, wait_turn_done, watch_csp

FIGURE = "import plotly.express as px\nfig = px.scatter(x=[1, 2, 3], y=[4, 1, 6], title='Points')\nfig.show()"


def test_a_plotly_figure_is_an_interactive_chart_with_no_csp_violation(new_chat: Page) -> None:
    page = new_chat
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if isinstance(m, ConsoleMessage) else None)
    watch_csp(page)
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


def draw_figure(page: Page) -> Locator:
    send(page, py(FIGURE))
    wait_turn_done(page, 0, timeout=90_000)
    chart = page.locator("#assistant-0 [data-testid=plotly-chart]")
    expect(chart).to_have_attribute("data-drawn", "true", timeout=20_000)
    return chart


def test_on_a_phone_the_chart_fills_its_box(new_chat: Page) -> None:
    """Plotly's desktop margins (80 px a side, 100 on top) left a phone's plot a fraction of its box."""
    page = new_chat
    page.set_viewport_size({"width": 390, "height": 800})
    chart = draw_figure(page)
    sizes = chart.evaluate("""(el) => { const plot = el.querySelector(".draglayer .nsewdrag").getBoundingClientRect();
                                        const svg = el.querySelector(".main-svg").getBoundingClientRect();
                                        const box = el.getBoundingClientRect();
                                        return [plot.width, box.width, svg.width]; }""")
    plot_w, box_w, svg_w = sizes
    assert box_w <= 390 and abs(svg_w - box_w) <= 2, sizes
    assert plot_w >= 0.8 * box_w, sizes  # the plot itself, not its margins and legend, fills the width
    page.set_viewport_size({"width": 360, "height": 800})  # turned, or a narrower phone: it follows its box
    page.wait_for_function("""() => { const el = document.querySelector("#assistant-0 [data-testid=plotly-chart]");
        return Math.abs(el.querySelector(".main-svg").getBoundingClientRect().width
                        - el.getBoundingClientRect().width) <= 2; }""")


def test_on_a_desktop_the_chart_has_zoom_and_png_download(new_chat: Page) -> None:
    page = new_chat
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.add_init_script(CSP_WATCH)
    page.reload()
    wait_socket(page)
    page.set_viewport_size({"width": 1280, "height": 900})
    chart = draw_figure(page)
    chart.hover()
    bar = chart.locator(".modebar")
    expect(bar).to_be_visible()
    expect(bar.locator("[data-title*='zoom' i]").first).to_be_visible()
    with page.expect_download() as got:
        bar.locator("[data-title*='png' i]").click()
    assert got.value.suggested_filename.endswith(".png")
    assert Path(got.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert page.evaluate("window.__csp") == [], console
