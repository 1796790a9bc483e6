"""What a daily user notices: titles, welcome prompts, copy, themes, phone size, accessibility, shell, export."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.conftest import wait_socket
from tests.e2e.helpers import chat_id_of, py, send, wait_turn_done
from tests.e2e.server import Server

ROOT = Path(__file__).resolve().parents[2]




def test_a_new_chat_is_titled_from_its_first_message(new_chat: Page, server: Server) -> None:
    page = new_chat
    send(page, "Tell me about glaciers and how they move")
    expect(page.get_by_test_id("chat-title-text")).not_to_have_text("New chat")
    wait_turn_done(page, 0)
    # The model's title replaces the quick one taken from the message.
    expect(page.get_by_test_id("chat-title-text")).to_have_text(re.compile(r"^Glaciers"))
    expect(page.get_by_test_id("chat-title-text")).not_to_have_text(re.compile("Tell me"))
    with sqlite3.connect(server.db_path) as db:
        title = db.execute("SELECT title FROM chat WHERE id=?", (chat_id_of(page),)).fetchone()[0]
    assert title.startswith("Glaciers")
    page.get_by_test_id("chat-menu").click()
    entry = page.get_by_test_id(f"chat-link-{chat_id_of(page)}")
    expect(entry).to_contain_text(title)
    expect(entry).to_contain_text("just now")
    expect(entry).to_have_attribute("aria-current", "page")


def test_a_title_that_arrives_while_the_user_renames_leaves_the_form_open(new_chat: Page) -> None:
    page = new_chat
    page.get_by_test_id("chat-title-text").click()
    page.locator("#chat-title input[name=title]").fill("Field notes")
    send(page, "Tell me about glaciers and how they move")
    wait_turn_done(page, 0)  # both automatic titles (the quick one and the model's) have come by now
    title_input = page.locator("#chat-title input[name=title]")
    expect(title_input).to_be_visible()
    expect(title_input).to_have_value("Field notes")
    title_input.press("Enter")
    expect(page.get_by_test_id("chat-title-text")).to_have_text("Field notes")


@pytest.mark.parametrize(("example", "expect_in_answer"), [(0, ".assistant-text"), (1, ".tool-result pre"),
                                                           (2, ".tool-result img")])
def test_welcome_prompts_work_with_the_demo_model(new_chat: Page, example: int, expect_in_answer: str) -> None:
    page = new_chat
    expect(page.get_by_test_id("welcome")).to_be_visible()
    page.get_by_test_id(f"example-{example}").click()
    wait_turn_done(page, 0, timeout=90_000)
    expect(page.get_by_test_id("welcome")).to_be_hidden()
    expect(page.locator(f"#assistant-0 {expect_in_answer}").first).to_be_visible()
    if example == 1:
        expect(page.locator("#assistant-0 .tool-result")).to_contain_text("17")  # primes below 60
    if example == 2:
        assert page.evaluate("document.querySelector('#assistant-0 .tool-result img').naturalWidth") > 100


def test_copy_buttons_put_code_and_answers_on_the_clipboard(new_chat: Page, context: BrowserContext) -> None:
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = new_chat
    send(page, "Explain list comprehensions")
    wait_turn_done(page, 0)
    code = page.locator("#assistant-0 .assistant-text pre.code-block").first
    code.hover()
    page.locator("#assistant-0 .assistant-text [data-action=copy-code]").first.click()
    assert page.evaluate("navigator.clipboard.readText()") == code.inner_text()
    page.locator("#assistant-0 [data-action=copy-answer]").last.click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "list comprehensions" in copied.lower() and len(copied) > 200


def test_each_turn_shows_model_tokens_and_time(new_chat: Page) -> None:
    page = new_chat
    send(page, "A quick one")
    wait_turn_done(page, 0)
    meta = page.locator("#meta-0").inner_text().removesuffix("Regenerate").strip()
    assert "demo" in meta and "out tokens" in meta and meta.strip().endswith("s")


def test_theme_follows_the_system_and_the_toggle_is_remembered(page: Page, server: Server) -> None:
    page.emulate_media(color_scheme="dark")
    page.goto(f"{server.url}/chat")
    wait_socket(page)
    assert page.evaluate("document.documentElement.getAttribute('data-theme')") is None
    dark_bg = page.evaluate("getComputedStyle(document.getElementById('chat')).backgroundColor")
    page.get_by_test_id("theme-toggle").click()
    assert page.evaluate("document.documentElement.getAttribute('data-theme')") == "light"
    light_bg = page.evaluate("getComputedStyle(document.getElementById('chat')).backgroundColor")
    assert light_bg != dark_bg
    page.reload()
    wait_socket(page)
    assert page.evaluate("document.documentElement.getAttribute('data-theme')") == "light"
    page.get_by_test_id("theme-toggle").click()
    assert page.evaluate("localStorage.getItem('varro-theme')") == "dark"


def test_a_phone_viewport_has_no_sideways_scroll(page: Page, server: Server) -> None:
    page.set_viewport_size({"width": 375, "height": 700})
    page.goto(f"{server.url}/chat")
    page.get_by_test_id("new-chat").click()
    wait_socket(page)
    send(page, py("wide = 'x' * 400\nprint(wide)"))
    wait_turn_done(page, 0)
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    assert page.evaluate("document.body.scrollWidth <= window.innerWidth")
    box = page.locator("#chat-input").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 700 and box["x"] >= 0


def test_accessibility_roles_labels_announcements_and_focus(new_chat: Page) -> None:
    page = new_chat
    turns = page.locator("#chat-turns")
    expect(turns).to_have_attribute("role", "log")
    expect(page.locator("#progress")).to_have_attribute("role", "status")
    unlabeled = page.evaluate("""() => [...document.querySelectorAll('button, textarea, input:not([type=hidden]), [role=button]')]
        .filter((el) => !(el.getAttribute('aria-label') || el.textContent.trim() || el.labels?.length))
        .map((el) => el.outerHTML.slice(0, 80))""")
    assert unlabeled == []
    send(page, "/stream 300 at 150")
    expect(turns).to_have_attribute("aria-busy", "true")
    expect(page.locator("#progress .sr-only")).to_have_text("Responding…")
    wait_turn_done(page, 0)
    expect(turns).to_have_attribute("aria-busy", "false")
    expect(page.locator("#progress .sr-only")).to_have_text("Done")
    expect(page.locator("#chat-input")).to_be_focused()


def test_shell_status_and_reset(new_chat: Page) -> None:
    page = new_chat
    status = page.get_by_test_id("shell-status")
    expect(status).to_have_attribute("data-status", "not started")
    send(page, py("secret_name = 7"))
    wait_turn_done(page, 0)
    expect(status).to_have_attribute("data-status", "idle")
    page.get_by_test_id("more-menu").click()
    page.get_by_test_id("reset-shell").click()
    expect(status).to_have_attribute("data-status", "not started")
    expect(page.get_by_test_id("shell-reset-1")).to_be_visible()
    send(page, py("print('secret_name' in globals())"))
    wait_turn_done(page, 1)
    expect(page.locator("#assistant-1 .tool-result")).to_contain_text("False")
    page.reload()
    wait_socket(page)
    expect(page.get_by_test_id("shell-reset-1")).to_be_visible()


def test_export_as_markdown_and_as_a_valid_notebook(new_chat: Page, tmp_path: Path) -> None:
    page = new_chat
    send(page, py("total = sum(range(10))\nprint(total)"))
    wait_turn_done(page, 0)
    send(page, "Plot a line chart")
    wait_turn_done(page, 1, timeout=90_000)
    page.get_by_test_id("more-menu").click()
    with page.expect_download() as md_download:
        page.get_by_test_id("export-md").click()
    markdown = Path(md_download.value.path()).read_text()
    assert "## You" in markdown and "total = sum(range(10))" in markdown and "45" in markdown
    assert "data:image/png;base64," in markdown
    page.get_by_test_id("more-menu").click()
    with page.expect_download() as nb_download:
        page.get_by_test_id("export-ipynb").click()
    assert nb_download.value.suggested_filename.endswith(".ipynb")
    notebook = nbformat.reads(Path(nb_download.value.path()).read_text(), as_version=4)
    nbformat.validate(notebook)
    first, *code = [c for c in notebook.cells if c.cell_type == "code"]
    assert "requirements" in first.metadata.tags and "# %pip install matplotlib==" in first.source  # from the chart
    assert notebook.metadata.varro.packages["matplotlib"]
    assert code[0].source.startswith("total = sum(range(10))") and code[0].execution_count == 1
    assert any(o.get("text", "").strip() == "45" for o in code[0].outputs)
    assert any("image/png" in o.get("data", {}) for o in code[1].outputs)
    assert any(c.cell_type == "markdown" and "Plot a line chart" in c.source for c in notebook.cells)
    json.dumps(notebook)  # plain JSON all the way down


def test_screenshots_of_both_themes(new_chat: Page, tmp_path: Path) -> None:
    """The README's screenshots, taken from the real page (VARRO_UPDATE_SCREENSHOTS=1 writes them to docs/)."""
    page = new_chat
    page.set_viewport_size({"width": 1100, "height": 760})
    send(page, "Run this:\n" + py("squares = [n * n for n in range(8)]\nprint(squares)"))
    wait_turn_done(page, 0)
    send(page, "Show me the formula for the mean")
    wait_turn_done(page, 1)
    expect(page.locator("#assistant-1 math").first).to_be_visible()
    out = ROOT / "docs" / "screenshots" if os.environ.get("VARRO_UPDATE_SCREENSHOTS") else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    for theme in ("light", "dark"):
        page.evaluate(f"document.documentElement.setAttribute('data-theme', '{theme}')")
        page.wait_for_timeout(400)  # let DaisyUI's colour transitions finish
        assert page.get_by_test_id("jump-latest").is_hidden(), "following the stream, no jump button"
        page.screenshot(path=out / f"{theme}.png")
        assert (out / f"{theme}.png").stat().st_size > 20_000
    # Search, as the user types, in the chats menu.
    page.evaluate("document.documentElement.setAttribute('data-theme', 'light')")
    page.get_by_test_id("chat-menu").click()
    page.keyboard.type("squares")
    expect(page.locator("#chat-menu-list [data-testid^=search-result-]").first).to_be_visible()
    page.wait_for_timeout(400)
    page.screenshot(path=out / "search.png")
    page.keyboard.press("Escape")
    # A phone, mid-conversation.
    page.set_viewport_size({"width": 390, "height": 760})
    send(page, "Compare lists and tuples in a table")
    wait_turn_done(page, 2)
    page.wait_for_timeout(400)
    page.screenshot(path=out / "phone.png")
    assert (out / "phone.png").stat().st_size > 20_000
