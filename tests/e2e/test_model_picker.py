"""The model picker (issue 18): a turn is answered by the model picked in the composer, and says so."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import WS_FLAG, wait_socket
from tests.e2e.helpers import send, wait_turn_done
from tests.e2e.server import run_server

MODELS = "demo=Demo (offline),demo:second=Second demo"


def test_the_picked_model_answers_the_next_turn_and_is_kept(page: Page, tmp_path: Path) -> None:
    with run_server(tmp_path / "data", VARRO_MODELS=MODELS) as srv:
        page.goto(f"{srv.url}/chat")
        wait_socket(page)
        picker = page.get_by_test_id("model-picker")
        expect(picker).to_have_value("demo")  # the default, VARRO_MODEL
        send(page, "Tell me about rivers")
        wait_turn_done(page, 0)
        expect(page.locator("#meta-0")).to_contain_text("Demo (offline) ·")
        picker.select_option(label="Second demo")
        send(page, "Tell me about lists")
        wait_turn_done(page, 1)
        expect(page.locator("#meta-1")).to_contain_text("Second demo ·")
        expect(page.locator("#meta-0")).to_contain_text("Demo (offline) ·")  # the earlier turn keeps its model
        page.reload()
        wait_socket(page)
        expect(page.locator("#meta-1")).to_contain_text("Second demo ·")
        expect(page.locator("#meta-0")).to_contain_text("Demo (offline) ·")
        expect(picker).to_have_value("demo:second")  # the chat goes on with the model it used last
        # A model the server does not offer (a tampered page) is refused inline, and nothing runs.
        picker.evaluate("s => { s.add(new Option('Other', 'openai:gpt-5')); s.value = 'openai:gpt-5'; }")
        send(page, "Tell me about maps")
        expect(page.locator("#chat-notices")).to_contain_text("'openai:gpt-5' is not offered here")
        expect(page.locator("#meta-2")).to_have_count(0)
        expect(page.locator("#chat-input")).to_have_value("Tell me about maps")  # the draft is given back
        # A new chat starts on the default; an example prompt is answered by the model picked for it.
        page.get_by_test_id("new-chat").click()
        page.wait_for_load_state()
        wait_socket(page)
        expect(picker).to_have_value("demo")
        picker.select_option(label="Second demo")
        page.get_by_test_id("example-0").click()
        wait_turn_done(page, 0)
        expect(page.locator("#meta-0")).to_contain_text("Second demo ·")


def test_one_model_shows_no_picker(new_chat: Page) -> None:
    expect(new_chat.get_by_test_id("send")).to_be_visible()
    expect(new_chat.get_by_test_id("model-picker")).to_have_count(0)


def test_on_a_phone_the_picker_leaves_the_input_its_width(browser: Browser, tmp_path: Path) -> None:
    """A phone has room for the input or the picker beside the buttons, not both: the picker takes a line below."""
    context = browser.new_context(viewport={"width": 390, "height": 760}, has_touch=True, is_mobile=True)
    page = context.new_page()
    page.add_init_script(WS_FLAG)
    try:
        with run_server(tmp_path / "data", VARRO_MODELS=MODELS) as srv:
            page.goto(f"{srv.url}/chat")
            wait_socket(page)
            picker, field = page.get_by_test_id("model-picker"), page.locator("#chat-input")
            expect(picker).to_be_visible()
            field_box, picker_box = field.bounding_box(), picker.bounding_box()
            assert field_box and picker_box
            assert field_box["width"] >= 200, field_box  # 90 px when the picker sat beside it
            assert picker_box["y"] >= field_box["y"] + field_box["height"] - 1, (field_box, picker_box)
    finally:
        context.close()
