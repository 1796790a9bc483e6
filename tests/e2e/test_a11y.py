"""axe-core (from npm, node_modules/axe-core) on the real page: no serious or critical violations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import wait_socket
from tests.e2e.helpers import py, send, wait_turn_done
from tests.e2e.server import run_server

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"


def serious_violations(page: Page) -> list[str]:
    """Run axe in the page (evaluated through the driver, so the page's CSP stays as it is)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    results: dict[str, Any] = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:5]}"
            for v in results["violations"] if v["impact"] in ("serious", "critical")]


def set_theme(page: Page, theme: str) -> None:
    page.evaluate(f"document.documentElement.setAttribute('data-theme', '{theme}')")
    page.wait_for_timeout(400)  # DaisyUI's colour transitions


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_empty_chat_has_no_serious_violations(new_chat: Page, theme: str) -> None:
    set_theme(new_chat, theme)
    assert serious_violations(new_chat) == []


def test_a_chat_with_code_images_and_tables_has_no_serious_violations(new_chat: Page) -> None:
    page = new_chat
    send(page, py("squares = [n * n for n in range(8)]\nprint(squares)"))
    wait_turn_done(page, 0)
    send(page, "Plot a histogram of 1,000 random numbers")
    wait_turn_done(page, 1, timeout=90_000)
    send(page, "Compare rivers and lakes in a table")
    wait_turn_done(page, 2)
    expect(page.locator("#assistant-0 pre").first).to_be_visible()
    expect(page.locator("#assistant-1 img").first).to_be_visible()
    expect(page.locator("#assistant-2 table").first).to_be_attached()
    send(page, py("import pandas as pd\npd.DataFrame({'city': ['Oslo', 'Lima'], 'rain': [763.0, 6.4]})"))
    wait_turn_done(page, 3, timeout=90_000)
    expect(page.locator("#assistant-3 [data-testid=data-grid]")).to_have_attribute("data-drawn", "true")
    for theme in ("light", "dark"):
        set_theme(page, theme)
        assert serious_violations(page) == [], theme


def test_the_model_picker_has_no_serious_violations(page: Page, tmp_path: Path) -> None:
    """With several models offered, the composer carries a picker: labelled, and readable in both themes."""
    with run_server(tmp_path / "data", VARRO_MODELS="demo=Demo (offline),demo:second=Second demo") as srv:
        page.goto(f"{srv.url}/chat")
        wait_socket(page)
        expect(page.get_by_test_id("model-picker")).to_be_visible()
        send(page, "Compare rivers and lakes in a table")
        wait_turn_done(page, 0)
        expect(page.locator("#meta-0")).to_contain_text("Demo (offline)")
        for theme in ("light", "dark"):
            set_theme(page, theme)
            assert serious_violations(page) == [], theme
