"""A DataFrame a cell shows is a grid (Grid.js, under the page's Content-Security-Policy) that sorts, filters,
scrolls and downloads as CSV, at desktop and phone widths, by keyboard; a frame longer than the grid holds says so."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import wait_socket
from tests.e2e.helpers import py, send, wait_turn_done, watch_csp

ROWS = 101


def note(i: int) -> str:
    return "a, b" if i % 10 == 0 else 'say "hi"' if i % 7 == 0 else "zeta" if i % 13 == 0 else "plain"


# Scores 0.5 to 100.5, each once, out of order: sorted as numbers, 2.5 comes before 10.5. A missing value too.
FRAME = f"""import pandas as pd
from IPython.display import display
notes = {[note(i) for i in range(ROWS)]!r}
df = pd.DataFrame({{"name": [f"item {{i}}" for i in range({ROWS})],
                    "score": [(i * 37 + 11) % 101 + 0.5 for i in range({ROWS})], "note": notes}})
df.loc[5, "note"] = None
df.to_csv("frame.csv", index=False)
display(pd.DataFrame({{"n": range(2500)}}))
df"""


@pytest.mark.parametrize("width", [1280, 390])
def test_a_dataframe_is_a_grid_that_sorts_filters_and_downloads_its_csv(new_chat: Page, width: int) -> None:
    page = new_chat
    page.set_viewport_size({"width": width, "height": 900})
    watch_csp(page)
    assert page.locator("script[src*=gridjs]").count() == 0  # loaded only once a table is on the page
    send(page, py(FRAME))
    wait_turn_done(page, 0, timeout=90_000)
    grids = page.locator("#assistant-0 [data-testid=data-grid]")
    expect(grids).to_have_count(2)
    capped, grid = grids.nth(0), grids.nth(1)
    for g in (capped, grid):
        expect(g).to_have_attribute("data-drawn", "true", timeout=20_000)
    expect(capped.get_by_test_id("grid-rows")).to_have_text(
        "Showing the first 2,000 of 2,500 rows (the CSV has these too).")
    expect(grid.get_by_test_id("grid-rows")).to_have_text(f"{ROWS} rows")

    # Sort by keyboard: the score header takes focus and Enter sorts it, as numbers.
    header = grid.locator("th", has_text="score")
    header.focus()
    header.press("Enter")
    scores = grid.locator("tbody tr td:nth-child(2)")
    expect(scores.nth(0)).to_have_text("0.5")
    assert [scores.nth(i).inner_text() for i in range(3)] == ["0.5", "1.5", "2.5"]

    # Filter: only the rows that mention the word stay.
    grid.locator("input.gridjs-input").fill("zeta")
    zeta = sum(note(i) == "zeta" for i in range(ROWS) if i != 5)
    expect(grid.locator("tbody tr")).to_have_count(zeta)
    expect(grid.locator("tbody tr").first).to_contain_text("zeta")

    # The CSV is the frame's own CSV, byte for byte (the frame wrote it as frame.csv, offered as a download).
    with page.expect_download() as download:
        grid.get_by_test_id("grid-csv").click()
    path = download.value.path()
    assert path is not None
    written = page.locator("#assistant-0 [data-testid=files-out] a", has_text="frame.csv")
    expected = page.request.get(written.evaluate("(a) => a.href")).body()
    assert path.read_bytes() == expected and expected.count(b"\n") == ROWS + 1

    # Readable on a phone: the page itself never scrolls sideways; the rows scroll inside their box.
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    box = grid.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
    assert page.evaluate("window.__csp") == []

    page.reload()  # drawn again from what was stored
    wait_socket(page)
    expect(page.locator("#assistant-0 [data-testid=data-grid]").nth(1)).to_have_attribute("data-drawn", "true")
