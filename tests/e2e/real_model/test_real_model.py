"""The app against a real OpenAI-compatible server: llama.cpp's llama-server with Gemma 3 270M, in Chromium.

Answers are capped (-n), so each test takes seconds once the server is built; what a tiny model says is not
checked, only what the app does with it: streaming, history, edit, stop, a crash, a hang, a full context window, a
real tool call through the kernel, and a figure sent to a server that reads no images.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import wait_socket
from tests.e2e.helpers import WATCH_LIVE_TEXT, send
from tests.e2e.real_model.conftest import TIMEOUT_S, RealModel

pytestmark = pytest.mark.real_model
RUN = 120_000  # ms: a first tool call also starts a kernel, and the machine may be busy


def fresh_chat(page: Page, real: RealModel) -> None:
    page.goto(f"{real.app.url}/chat")
    with page.expect_navigation():
        page.get_by_test_id("new-chat").click()
    wait_socket(page)


def wait_turn(page: Page, k: int, status: str = "complete") -> None:
    expect(page.locator(f"#meta-{k}")).to_have_attribute("data-status", status, timeout=RUN)
    expect(page.locator("#progress")).to_have_attribute("data-running", "false")


def wait_streaming(page: Page, k: int, chars: int = 20) -> None:
    """Until the live answer of turn k has at least `chars` characters: the model is generating."""
    page.wait_for_function(
        """([k, n]) => { const p = document.querySelector(`#assistant-${k} [id^="part-"]`);
                         return p && p.textContent.length >= n; }""", arg=[k, chars], timeout=RUN)


def test_text_streams_and_a_reload_shows_the_same_chat(page: Page, real: RealModel) -> None:
    fresh_chat(page, real)
    page.evaluate(WATCH_LIVE_TEXT, 0)
    send(page, "Write a short poem about the sea.")
    wait_turn(page, 0)
    assert len(page.evaluate("window.__lengths")) >= 5, "the answer arrived in pieces, live"
    send(page, "Now write one about the sky.")
    wait_turn(page, 1)
    answers = [page.locator(f"#assistant-{k} .assistant-text").inner_text() for k in (0, 1)]
    assert all(a.strip() for a in answers)
    expect(page.locator("#meta-1")).to_contain_text("gemma-3-270m")
    expect(page.locator("#meta-1")).to_contain_text(" out tokens")
    page.reload()
    wait_socket(page)
    assert [page.locator(f"#assistant-{k} .assistant-text").inner_text() for k in (0, 1)] == answers


def test_editing_the_first_message_regenerates_from_there(page: Page, real: RealModel) -> None:
    fresh_chat(page, real)
    for k, text in enumerate(["Name a fruit.", "Name a colour."]):
        send(page, text)
        wait_turn(page, k)
    page.get_by_test_id("edit-0").click()
    page.locator("#user-0 textarea").fill("Name an animal.")
    page.get_by_test_id("save-edit-0").click()
    expect(page.locator("#user-0")).to_contain_text("Name an animal.")
    wait_turn(page, 0)
    expect(page.locator("#chat-turns .turn")).to_have_count(1)
    page.reload()
    wait_socket(page)
    expect(page.locator("#chat-turns .turn")).to_have_count(1)
    expect(page.locator("#user-0")).to_contain_text("Name an animal.")


def test_stop_stops_the_server_generating(page: Page, real: RealModel) -> None:
    fresh_chat(page, real)
    send(page, "Count from one to one hundred in words, one number per line.")
    wait_streaming(page, 0)
    assert real.llama.busy()
    page.get_by_test_id("stop").click()
    idle_after = real.llama.wait_idle(within=5)
    print(f"\nllama-server stopped generating {idle_after:.2f} s after the stop")
    wait_turn(page, 0, "stopped")
    expect(page.locator("#meta-0")).to_contain_text("≈")  # counted from the text: the server never reported usage
    expect(page.locator("#meta-0")).not_to_contain_text("0 in · 0 out")


def test_a_server_killed_mid_answer_is_reported_and_the_next_message_works(page: Page, real: RealModel) -> None:
    fresh_chat(page, real)
    send(page, "Tell me a long story about a lighthouse keeper.")
    wait_streaming(page, 0)
    started = time.monotonic()
    real.llama.kill()
    expect(page.locator("#assistant-0 [role=alert]")).to_contain_text("broke off", timeout=20_000)
    print(f"\nerror shown {time.monotonic() - started:.2f} s after the kill")
    wait_turn(page, 0, "error")
    real.llama.start()
    send(page, "Are you back?")
    wait_turn(page, 1)
    assert page.locator("#assistant-1 .assistant-text").inner_text().strip()


def test_a_hung_server_is_reported_as_a_timeout(page: Page, real: RealModel) -> None:
    fresh_chat(page, real)
    real.llama.pause()
    try:
        send(page, "Hello?")
        expect(page.locator("#assistant-0 [role=alert]")).to_contain_text(
            "did not answer", timeout=(TIMEOUT_S + 30) * 1000)
        expect(page.locator("#assistant-0 [role=alert]")).to_contain_text("hung")
        wait_turn(page, 0, "error")
    finally:
        real.llama.resume()
    send(page, "Hello again.")
    wait_turn(page, 1)


def test_a_long_chat_stays_within_the_context_window(page: Page, real: RealModel) -> None:
    fresh_chat(page, real)
    filler = "Here is some background you may ignore. " * 40  # ~1,600 characters, ~400 tokens
    for k in range(4):
        send(page, f"Note {k}. {filler} Reply with one word.")
        wait_turn(page, k)  # never an overflow error from the server
    expect(page.locator("#chat-turns [role=status]", has_text="context window")).to_have_count(1)
    expect(page.locator("#chat-turns [role=alert]")).to_have_count(0)


CALL = '<tool_call>\n{{"name": "run_python", "arguments": {{"code": "{code}"}}}}\n</tool_call>'


def wait_request_limit(page: Page, k: int) -> None:
    """The base model asks for the same call again after each result: the app stops it at VARRO_MODEL_REQUESTS."""
    expect(page.locator(f"#assistant-{k} [role=alert]")).to_contain_text("kept calling tools", timeout=RUN)
    wait_turn(page, k, "error")


def test_a_real_streamed_tool_call_runs_in_the_kernel(page: Page, real: RealModel) -> None:
    fresh_chat(page, real)
    send(page, CALL.format(code="print(12345 * 6789)"))  # the base model repeats it: a real streamed call
    expect(page.locator("#assistant-0 .tool-call").first).to_contain_text("run_python", timeout=RUN)
    expect(page.locator("#assistant-0 .tool-result").first).to_contain_text("83810205", timeout=RUN)
    code = page.locator("#assistant-0 .tool-call .code-block").first.inner_text()
    assert "12345 * 6789" in code, "the model's own code, streamed as the call's arguments"
    wait_request_limit(page, 0)
    page.reload()
    wait_socket(page)
    expect(page.locator("#assistant-0 .tool-result").first).to_contain_text("83810205")


def test_a_figure_then_a_question_on_a_text_only_server(page: Page, real: RealModel) -> None:
    fresh_chat(page, real)
    send(page, CALL.format(code="import matplotlib.pyplot as plt; plt.plot([1, 4, 9]); plt.show()"))
    expect(page.locator("#assistant-0 .tool-result img").first).to_be_visible(timeout=RUN)
    expect(page.locator("#assistant-0 [role=status]")).to_contain_text("does not read images", timeout=RUN)
    wait_turn(page, 0)  # after the refusal the retry goes on without the figure, and the model answers in text
    expect(page.locator("#assistant-0 [role=alert]")).to_have_count(0)
    send(page, "What did the plot show?")
    wait_turn(page, 1)
    expect(page.locator("#assistant-1 [role=alert]")).to_have_count(0)
