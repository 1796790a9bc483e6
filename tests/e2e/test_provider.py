"""The real provider path, end to end: the app talks to an OpenAI-compatible server through pydantic-ai's
`OpenAIChatModel` and the openai SDK, and the page shows what streams back.

The provider is `tests.fakes.openai_server` on loopback, so no key or network is needed, and its faults
(a stream that breaks mid-way) can be scripted.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import wait_socket
from tests.e2e.server import Server, run_server
from tests.fakes.openai_server import recorded, run_fake_openai, text_of

RUN_TIMEOUT = 60_000  # ms: the first tool call also starts a kernel
CODE_PROMPT = "Compute this for me:\n```python\nprint(6*7)\n```"


@dataclass
class Provider:
    fake: str  # the fake's base URL, `http://127.0.0.1:N/v1`
    app: Server


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    data = tmp_path_factory.mktemp("provider")
    with run_fake_openai(log=data / "fake-openai.log") as fake, run_server(
        data, VARRO_MODEL="openai:fake-model", OPENAI_BASE_URL=fake, OPENAI_API_KEY="test-key"
    ) as app:
        yield Provider(fake, app)


def fresh_chat(page: Page, app: Server) -> int:
    """A new, empty chat with its socket open; returns its id."""
    page.goto(f"{app.url}/chat")
    with page.expect_navigation():
        page.get_by_test_id("new-chat").click()
    wait_socket(page)
    expect(page.locator("#chat-turns .turn")).to_have_count(0)
    return int(page.locator("#chat").get_attribute("data-chat-id") or "")


def send(page: Page, text: str) -> None:
    page.locator("#chat-input").fill(text)
    page.locator("#chat-input").press("Enter")


def wait_turn(page: Page, k: int, status: str = "complete") -> None:
    expect(page.locator(f"#meta-{k}")).to_have_attribute("data-status", status, timeout=RUN_TIMEOUT)
    expect(page.locator("#progress")).to_have_attribute("data-running", "false")


def stored(app: Server, chat_id: int) -> list[tuple[int, str, str, str]]:
    """(idx, user_text, content JSON, status) of every stored turn of the chat."""
    with closing(sqlite3.connect(app.db_path)) as db:
        return db.execute("SELECT idx, user_text, content, status FROM turn WHERE chat_id = ? AND on_path ORDER BY idx",
                          (chat_id,)).fetchall()


def conversation(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's messages without the system prompt."""
    return [m for m in body["messages"] if m["role"] not in ("system", "developer")]


def requests_ending_with(provider: Provider, prompt: str) -> list[dict[str, Any]]:
    """The streamed requests the fake received whose last message is this user prompt (a title helper's
    non-streamed request, should there be one, is not among them)."""
    return [b for b in recorded(provider.fake)
            if b.get("stream") and text_of(conversation(b)[-1].get("content")) == prompt]


def test_text_streams_token_by_token_through_the_provider(page: Page, provider: Provider) -> None:
    chat_id = fresh_chat(page, provider.app)
    # Record each distinct length of the live text part until the finished block replaces it.
    page.evaluate("""() => {
      const s = window.__stream = {lengths: [], finishedAfter: null};
      const observer = new MutationObserver(() => {
        const live = document.querySelector('#assistant-0 [id^="part-0-"]');
        if (live) {
          // [finished blocks, open tail]: the tail starts over with the open text when a block is rendered.
          const n = [live.parentElement.querySelectorAll(':scope > .md-chunk > *').length, live.textContent.length];
          if (String(s.lengths[s.lengths.length - 1]) !== String(n)) s.lengths.push(n);
        } else if (document.querySelector('#assistant-0 .assistant-text')) {
          s.finishedAfter = s.lengths.length;
          observer.disconnect();
        }
      });
      observer.observe(document.getElementById('chat-turns'), {childList: true, subtree: true, characterData: true});
    }""")
    send(page, "Tell me something about streaming")
    wait_turn(page, 0)

    stream = page.evaluate("window.__stream")
    assert stream["finishedAfter"] is not None, stream
    assert stream["finishedAfter"] >= 5, f"too few intermediate states: {stream}"
    states = [tuple(x) for x in stream["lengths"]]
    assert states == sorted(set(states)), "blocks are only added, and the open tail only grows between them"
    answer = page.locator("#assistant-0 .assistant-text")
    expect(answer.locator("h2")).to_have_text("Answer from the fake provider")
    expect(answer.locator("li")).to_have_count(3)
    expect(answer).to_contain_text("Tell me something about streaming")
    expect(page.locator("#assistant-0 [id^='part-']")).to_have_count(0)
    expect(page.locator("#meta-0")).to_contain_text("fake-model")

    # It really went through the provider, streamed, and was stored.
    [last] = requests_ending_with(provider, "Tell me something about streaming")
    assert last["model"] == "fake-model" and last["tools"][0]["function"]["name"] == "run_python"
    [(idx, user_text, content, status)] = stored(provider.app, chat_id)
    assert (idx, user_text, status) == (0, "Tell me something about streaming", "complete")
    assert json.loads(content)["meta"]["model"] == "fake-model"


def test_tool_call_streams_runs_and_survives_a_reload(page: Page, provider: Provider) -> None:
    chat_id = fresh_chat(page, provider.app)
    # Note the order in which the finished call, its result and the follow-up text first appear.
    page.evaluate("""() => {
      const order = window.__order = [];
      const blocks = [['call', '#node-0-0 .tool-call'], ['result', '#node-0-1 .tool-result'],
                      ['text', '#node-0-2 .assistant-text']];
      new MutationObserver(() => {
        for (const [name, sel] of blocks) if (!order.includes(name) && document.querySelector(sel)) order.push(name);
      }).observe(document.getElementById('chat-turns'), {childList: true, subtree: true});
    }""")
    send(page, CODE_PROMPT)
    expect(page.locator("#assistant-0 .tool-call").first).to_be_visible(timeout=RUN_TIMEOUT)
    expect(page.locator("#assistant-0 .tool-result")).to_contain_text("42", timeout=RUN_TIMEOUT)
    wait_turn(page, 0)
    assert page.evaluate("window.__order") == ["call", "result", "text"]

    def check_blocks() -> None:
        expect(page.locator("#node-0-0 .tool-call")).to_contain_text("run_python")
        expect(page.locator("#node-0-0 .tool-call")).to_contain_text("print(6*7)")
        expect(page.locator("#node-0-1 .tool-result")).to_contain_text("42")
        expect(page.locator("#node-0-2 .assistant-text")).to_contain_text("The shell returned")
        expect(page.locator("#node-0-2 .assistant-text")).to_contain_text("42")

    check_blocks()
    page.reload()
    wait_socket(page)
    check_blocks()
    expect(page.locator("#meta-0")).to_have_attribute("data-status", "complete")
    [(_, _, content, status)] = stored(provider.app, chat_id)
    assert status == "complete"
    kinds = [part["part_kind"] for m in json.loads(content)["assistant"]["messages"] for part in m["parts"]]
    assert kinds == ["user-prompt", "tool-call", "tool-return", "text"]


def test_next_message_carries_the_whole_history(page: Page, provider: Provider) -> None:
    fresh_chat(page, provider.app)
    prompts = ["Tell me about apples", CODE_PROMPT, "And now pears?"]
    for k, prompt in enumerate(prompts):
        send(page, prompt)
        wait_turn(page, k)

    [last] = requests_ending_with(provider, prompts[2])
    messages = conversation(last)
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "tool", "assistant", "user"]
    assert text_of(messages[0]["content"]) == prompts[0]
    assert "You asked: “Tell me about apples”" in messages[1]["content"]
    assert text_of(messages[2]["content"]) == prompts[1]
    [call] = messages[3]["tool_calls"]
    assert call["function"]["name"] == "run_python"
    assert json.loads(call["function"]["arguments"]) == {"code": "print(6*7)"}
    assert messages[4]["tool_call_id"] == call["id"] and "42" in text_of(messages[4]["content"])
    assert "The shell returned" in messages[5]["content"]
    expect(page.locator("#assistant-2 .assistant-text")).to_contain_text("And now pears?")


def test_a_stream_broken_midway_is_reported_and_keeps_earlier_turns(page: Page, provider: Provider) -> None:
    chat_id = fresh_chat(page, provider.app)
    send(page, "A calm first question")
    wait_turn(page, 0)
    before_html = page.locator("#assistant-0").inner_html()
    [before] = stored(provider.app, chat_id)

    send(page, "Now break the stream FAIL_MIDSTREAM")
    expect(page.locator("#assistant-1 [role=alert]")).to_be_visible(timeout=30_000)
    expect(page.locator("#progress")).to_have_attribute("data-running", "false", timeout=10_000)
    expect(page.get_by_test_id("send")).to_be_enabled()
    expect(page.locator("#meta-1")).to_have_attribute("data-status", "error")

    # Earlier turns are intact, on the page and in the database.
    assert page.locator("#assistant-0").inner_html() == before_html
    expect(page.locator("#user-0")).to_contain_text("A calm first question")
    rows = stored(provider.app, chat_id)
    assert rows[0] == before
    assert rows[1][0:2] == (1, "Now break the stream FAIL_MIDSTREAM") and rows[1][3] == "error"
    assert json.loads(rows[1][2])["meta"]["error"]

    # The page is usable again: the next message is answered as turn 2.
    send(page, "Are you still there?")
    wait_turn(page, 2)
    expect(page.locator("#assistant-2 .assistant-text h2")).to_have_text("Answer from the fake provider")
    page.reload()
    wait_socket(page)
    expect(page.locator("#assistant-1 [role=alert]")).to_be_visible()
    expect(page.locator("#meta-1")).to_have_attribute("data-status", "error")
    assert [r[3] for r in stored(provider.app, chat_id)] == ["complete", "error", "complete"]
