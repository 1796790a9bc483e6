"""A DataFrame's table form: kept beside its HTML for the page's grid, never shown to the model, escaped in the page."""

from __future__ import annotations

import json

from bs4 import BeautifulSoup
from fasthtml.common import Div, to_xml

from ui.outputs import RichOutputs
from varro.shell.result import TABLE_TYPE, CellResult, OutputCollector

TABLE = {"columns": ['<script>alert(1)</script>', "n"], "rows": [["a", "1"], ["b", "2"]], "numeric": [False, True],
         "total_rows": 2}


def collected(*bundles: dict[str, object]) -> CellResult:
    collector = OutputCollector()
    for i, bundle in enumerate(bundles):
        collector.feed("execute_result" if i == len(bundles) - 1 else "display_data", {"data": bundle})
    return collector.build()


def test_a_table_is_kept_beside_its_html_and_the_model_reads_only_text() -> None:
    result = collected({"text/html": "<table>other</table>", "text/plain": "other"},
                       {"text/html": "<table>frame</table>", "text/plain": "   n\n0  1", TABLE_TYPE: TABLE})
    assert [json.loads(t)["html"] for t in result.tables] == [1]  # it stands for the second HTML output
    assert json.loads(result.tables[0])["rows"] == TABLE["rows"]
    assert "rows" not in result.to_text() and "   n\n0  1" in result.to_text()
    assert CellResult.from_dict(result.to_dict()).tables == result.tables


def test_the_page_shows_the_grid_in_place_of_its_html_with_the_spec_escaped() -> None:
    meta = collected({"text/html": "<table>other</table>"},
                     {"text/html": "<table>frame</table>", TABLE_TYPE: TABLE}).to_dict()
    page = BeautifulSoup(to_xml(Div(*RichOutputs(meta))), "html.parser")
    outputs = page.select("[data-testid=html-output], [data-testid=data-grid]")
    assert [o["data-testid"] for o in outputs[:2]] == ["html-output", "data-grid"]
    grid = page.select_one("[data-testid=data-grid]")
    assert grid is not None and json.loads(str(grid["data-table"]))["columns"] == TABLE["columns"]
    assert "frame" in grid.get_text()  # the frame's HTML until the grid is drawn
    assert page.find("script") is None


def test_a_table_whose_html_was_held_back_still_shows_as_a_grid() -> None:
    meta = collected({"text/plain": "big", TABLE_TYPE: TABLE}).to_dict()
    page = BeautifulSoup(to_xml(Div(*RichOutputs(meta))), "html.parser")
    assert len(page.select("[data-testid=data-grid]")) == 1 and not page.select("[data-testid=html-output]")
