"""The app against a real OpenAI-compatible server: llama.cpp's llama-server with Gemma 3 270M, in Chromium.

Answers are capped (-n), so each test takes seconds once the server is built; what a tiny model says is not
checked, only what the app does with it: streaming, history, edit, stop, a crash, a hang, a full context window, a
real tool call through the kernel, and a figure sent to a server that reads no images.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import wait_socket
from tests.e2e.helpers import WATCH_LIVE_TEXT, send
from tests.e2e.real_model.conftest import ANSWER_CAP, CONTEXT, REQUESTS, TIMEOUT_S, RealModel
from tests.e2e.server import run_server

pytestmark = [pytest.mark.real_model, pytest.mark.alone]
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
    expect(page.locator("#meta-1")).to_contain_text(real.llama.served_model())  # what answers, not what we asked
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
    # ~3,300 characters: ~700 tokens by the server's own count (the app counts with it), so three notes and their
    # answers no longer fit beside a fourth in 2,048 tokens
    filler = "Here is some background you may ignore. " * 80
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


ENGLISH = ("The quarterly report shows that sales in the northern region grew steadily, while the southern stores "
           "struggled with supply problems and a wet summer. ")


def test_a_long_english_message_is_accepted(page: Page, real: RealModel) -> None:
    """About 5,000 characters of English: some 1,100 tokens by the server's own count, well inside the 2,048-token
    window; at three characters a token it looked like 1,700 and was refused before it was sent."""
    fresh_chat(page, real)
    send(page, (ENGLISH * 40)[:5_000] + " In one word, which region grew?")
    wait_turn(page, 0)
    expect(page.locator("#assistant-0 [role=alert]")).to_have_count(0)


def test_a_tool_loop_cannot_overflow_and_the_next_message_answers(page: Page, real: RealModel) -> None:
    """Each step prints far more than the window holds: every request of the loop is fitted to it (the server is
    never sent more than it can take), and the message after the loop is answered."""
    fresh_chat(page, real)
    send(page, CALL.format(code="print('the weather was fine today ' * 400)"))
    # The base model may repeat the call until VARRO_MODEL_REQUESTS stops it, or answer once the output is left out
    # of what it reads: either way, never a context overflow from the server.
    expect(page.locator("#meta-0[data-status]")).to_have_count(1, timeout=RUN)
    alert = page.locator("#assistant-0 [role=alert]")
    if page.locator("#meta-0").get_attribute("data-status") == "error":
        expect(alert).to_contain_text("kept calling tools")
    else:
        expect(page.locator("#meta-0")).to_have_attribute("data-status", "complete")
        expect(page.locator("#assistant-0 .tool-result").first).to_be_visible()  # the cell ran; its output was fitted
    assert "context window" not in " ".join(alert.all_inner_texts())
    send(page, "Say hello.")
    wait_turn(page, 1)
    expect(page.locator("#assistant-1 [role=alert]")).to_have_count(0)


def shown_input(page: Page, k: int) -> tuple[int, bool]:
    """The input tokens turn k's footer shows, and whether it is an estimate ("≈")."""
    meta = page.locator(f"#meta-{k}").inner_text()
    found = re.search(r"(≈ )?(\d+) in", meta)
    assert found, meta
    return int(found[2]), bool(found[1])


def test_a_stopped_turn_counts_what_the_server_processed(page: Page, real: RealModel) -> None:
    """The same first message, once answered (the server reports its input tokens) and once stopped at once, while
    the server still reads the prompt (the app estimates them): the estimate counts the instructions and tool
    schema too, within a fifth (it said "0 in" or "≈ 15 in" where the server had processed hundreds)."""
    prompt = "Write a short poem about the sea."
    fresh_chat(page, real)
    send(page, prompt)
    wait_turn(page, 0)
    reported, estimated = shown_input(page, 0)
    assert not estimated and reported > 100
    fresh_chat(page, real)
    real.llama.pause()  # the server holds the prompt unread, so the stop lands before any answer on any machine
    try:
        send(page, prompt)
        expect(page.get_by_test_id("user-text-0")).to_have_text(prompt)  # the turn began: stored, then sent on
        page.get_by_test_id("stop").click()
        wait_turn(page, 0, "stopped")
    finally:
        real.llama.resume()
    counted, estimated = shown_input(page, 0)
    assert estimated and abs(counted - reported) <= reported / 5, (counted, reported)


def test_a_title_never_overlaps_an_answer(page: Page, real: RealModel, tmp_path: Path) -> None:
    """With titles on (asked of the chat's own model), the title is asked for only once an answer is done, and a new
    answer drops one still being written (streamed: the server stops it): the server never holds a request waiting
    behind another, and the title has no template tokens or markdown."""
    with run_server(tmp_path / "titled", VARRO_MODEL="openai:gemma-3-270m", OPENAI_BASE_URL=real.llama.url,
                    OPENAI_API_KEY="unused", VARRO_MODEL_TIMEOUT_S=str(TIMEOUT_S), VARRO_CONTEXT_TOKENS=str(CONTEXT),
                    VARRO_MODEL_MAX_TOKENS=str(ANSWER_CAP), VARRO_MODEL_REQUESTS=str(REQUESTS)) as app:
        page.goto(f"{app.url}/chat")
        wait_socket(page)
        with real.llama.watching_queue() as most:
            send(page, "Write a short story about a dog.")
            wait_turn(page, 0)
            send(page, "And one about a cat.")  # at once: turn 0's title request may be out, and must go
            wait_turn(page, 1)
            real.llama.wait_idle(within=30)
        assert most == [0], "a request waited behind another: a title beside an answer"
        title = page.get_by_test_id("chat-title-text").inner_text()
        assert "<|" not in title and "<start_of_turn>" not in title and "*" not in title and "`" not in title


def test_a_wrong_model_name_is_noticed_and_turns_carry_the_real_one(page: Page, real: RealModel) -> None:
    """The app asks for "gemma-3-270m"; llama-server answers any name, but serves its GGUF under its own. The
    start-up check says so in the log, and turns are labelled with the name of the model that answers."""
    served = real.llama.served_model()
    assert served != "gemma-3-270m"
    assert "gemma-3-270m" in real.app.output() and served in real.app.output()
    fresh_chat(page, real)
    send(page, "Say hi.")
    wait_turn(page, 0)
    expect(page.locator("#meta-0")).to_contain_text(served)
