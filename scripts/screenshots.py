"""`.venv/bin/python -m scripts.screenshots`: the README's screenshots, taken from the real app in Chromium.

Starts the app (demo model, two models offered so the picker shows) in a throwaway data directory, asks what a
first-time user might (a code cell, a table, a formula, a chart), and writes docs/screenshots/{light,dark,
search,phone}.png. Run it after a change to the page's look, and commit the pictures.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from playwright.sync_api import Page, expect

from bench.browser import chromium
from tests.e2e.conftest import WS_FLAG, wait_socket
from tests.e2e.helpers import py, send, wait_turn_done
from tests.e2e.server import ROOT, run_server

OUT = ROOT / "docs" / "screenshots"
MODELS = "demo=Demo model (offline),demo:second=Second demo"
DESKTOP = {"width": 1100, "height": 760}
PHONE = {"width": 390, "height": 760}


def conversation(page: Page) -> None:
    send(page, py("squares = [n * n for n in range(8)]\nprint(squares)"))
    wait_turn_done(page, 0)
    send(page, "Compare rivers and lakes in a table")
    wait_turn_done(page, 1)
    send(page, "Show me the formula for the mean")
    wait_turn_done(page, 2)
    expect(page.locator("#assistant-2 math").first).to_be_attached()


def shoot(page: Page, name: str, theme: str = "light") -> None:
    page.evaluate(f"document.documentElement.setAttribute('data-theme', '{theme}')")
    page.wait_for_timeout(500)  # DaisyUI's colour transitions
    page.screenshot(path=str(OUT / f"{name}.png"))
    print(f"wrote {OUT / f'{name}.png'}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, chromium() as browser, \
            run_server(Path(tmp) / "data", VARRO_MODELS=MODELS, VARRO_DEMO_TPS="400") as srv:
        page = browser.new_page(viewport=DESKTOP)
        page.add_init_script(WS_FLAG)
        page.goto(f"{srv.url}/chat")
        wait_socket(page)
        conversation(page)
        shoot(page, "light")
        shoot(page, "dark", "dark")
        page.get_by_test_id("new-chat").click()
        page.wait_for_load_state()
        wait_socket(page)
        send(page, "Tell me about rivers")
        wait_turn_done(page, 0)
        page.get_by_test_id("chat-menu").click()
        page.get_by_test_id("chat-search").fill("rivers")
        expect(page.locator("[data-testid^=search-result-]").first).to_be_visible()
        shoot(page, "search")
        phone = browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
        phone.add_init_script(WS_FLAG)
        phone.goto(page.url.split("#")[0])
        wait_socket(phone)
        shoot(phone, "phone")


if __name__ == "__main__":
    main()
