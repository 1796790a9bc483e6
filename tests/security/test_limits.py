"""Limits per socket: a message size cap with a clear answer, a frame-size cap that matches uvicorn's, and a
frame-rate cap. Oversize or flood closes that socket only; everyone else's stream goes on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from websockets.exceptions import ConnectionClosed

from app.__main__ import uvicorn_options
from app.refusals import FLOODED
from tests.e2e.conftest import wait_socket
from tests.e2e.helpers import send, wait_idle
from tests.e2e.server import Server
from tests.security.client import Tab, flood_once, stored_turns
from tests.security.conftest import host_server
from varro.agent.demo import stream_chunks
from varro.chat.protocol import Invalid, max_frame_size, parse_frame
from varro.chat.ratelimit import TokenBucket
from varro.config import Settings

STREAM = "/stream 300 at 150"  # two seconds of text for the bystander


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=10, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.1  # one token back
    assert [bucket.take(), bucket.take()] == [True, False]
    now[0] += 100  # saved up, but never beyond the burst
    assert sum(bucket.take() for _ in range(10)) == 3


def test_uvicorn_frame_cap_matches_the_parser() -> None:
    settings = Settings(max_message_chars=1000)
    cap = uvicorn_options(settings)["ws_max_size"]
    assert cap == max_frame_size(1000)
    # The worst case a valid message makes (every character escaped as \\u0000) fits under the cap ...
    worst = json.dumps({"action": "send", "msg": "\x00" * 1000, "HEADERS": {"HX-Request": "true", "HX-Trigger": "x" * 500}})
    assert len(worst.encode()) <= cap and not isinstance(parse_frame(worst, 1000), Invalid)
    # ... and anything that gets through uvicorn but is too long is answered clearly.
    assert "too long" in parse_frame(json.dumps({"action": "send", "msg": "x" * 1001}), 1000).reason
    assert "too long" in parse_frame("x" * (cap + 1), 1000).reason


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with host_server(tmp_path_factory.mktemp("limits"), VARRO_MAX_MESSAGE_CHARS="2000", VARRO_WS_FRAMES_PER_S="5",
                     VARRO_WS_FRAME_BURST="10") as srv:
        yield srv


async def close_code(tab: Tab, seconds: float = 10) -> int | None:
    """Read until the server closes the socket; its close code."""
    try:
        while True:
            await tab.recv(seconds)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


async def bystander_while(host: Server, attack: object) -> tuple[Tab, str]:
    """Run `attack` (a coroutine) while another user streams a long answer; the bystander and its turn's status."""
    bob = Tab(host.url, "bob")
    await bob.sign_in()
    await bob.open()
    await bob.send(STREAM)
    await bob.recv(10)  # the turn has started
    await attack
    return bob, await bob.wait_turn(0, 30)


def assert_bystander_intact(host: Server, bob: Tab, status: str) -> None:
    assert status == "complete"
    [turn] = stored_turns(host.db_path, bob.chat_id)
    texts = [p["content"] for m in turn["content"]["assistant"]["messages"] for p in m["parts"]
             if p["part_kind"] == "text"]
    assert "".join(texts) == "".join(stream_chunks(300, 300))


async def test_a_flood_closes_that_socket_only(host: Server) -> None:
    mallory = Tab(host.url, "mallory-flood")
    await mallory.sign_in()

    async def flood() -> None:
        await mallory.open()
        with pytest.raises(ConnectionClosed):
            for _ in range(200):  # bounded: far past the burst of 10
                await mallory.ws.send(json.dumps({"action": "stop"}))
                await asyncio.sleep(0.001)
        assert await close_code(mallory) == FLOODED

    bob, status = await bystander_while(host, flood())
    assert any("Too many messages" in f for f in mallory.frames)
    assert_bystander_intact(host, bob, status)
    # A new socket of the same user is welcome again.
    await mallory.open()
    await mallory.send("hello again")
    assert await mallory.wait_turn(0, 30) == "complete"
    await mallory.close()
    await bob.close()


async def test_the_frame_budget_holds_across_reconnects(host: Server) -> None:
    """Reconnecting used to bring a fresh burst with every socket (4 loops: 151,000 frames in 20 s)."""
    mallory = Tab(host.url, "mallory-reconnect")
    await mallory.sign_in()
    answered = 0  # frames the server handled: each bad frame gets a "not valid JSON" answer

    async def loop(deadline: float) -> None:
        nonlocal answered
        tab = Tab(host.url, "mallory-reconnect", mallory.cookies, mallory.chat_id)
        while asyncio.get_running_loop().time() < deadline:
            handled, _ = await flood_once(tab)  # awaited first: `answered +=` around an await loses updates
            answered += handled

    loop_time = asyncio.get_running_loop().time
    started = ended = loop_time()

    async def attack() -> None:
        nonlocal ended
        await loop(started + 3)
        ended = loop_time()

    bob, status = await bystander_while(host, attack())
    elapsed = ended - started
    print(f"\nreconnect flood: {answered} frames handled in {elapsed:.1f} s reconnecting")
    # The budget is 10 saved up and 5 a second for the user, whatever the number of sockets (each open spends one).
    assert answered <= 10 + 5 * elapsed + 1, (answered, elapsed)
    assert_bystander_intact(host, bob, status)
    await bob.close()


async def test_an_oversize_frame_closes_that_socket_only(host: Server) -> None:
    mallory = Tab(host.url, "mallory-size")
    await mallory.sign_in()

    async def oversize() -> None:
        await mallory.open()
        # Longer than the message cap but within the frame cap: a clear answer, and the socket stays up.
        await mallory.send("x" * 2500)
        assert "too long" in await mallory.recv(10)
        await mallory.ws.send("{broken")
        assert "not valid JSON" in await mallory.recv(10)
        # Past uvicorn's frame cap: closed with 1009 (message too big) before the server reads it.
        await mallory.ws.send(json.dumps({"action": "send", "msg": "y" * (max_frame_size(2000) + 10)}))
        assert await close_code(mallory) == 1009

    bob, status = await bystander_while(host, oversize())
    assert_bystander_intact(host, bob, status)
    await bob.close()


def test_server_log_is_clean(host: Server) -> None:
    assert "Traceback" not in host.output()




def test_the_page_says_why_when_a_message_is_too_long(page: Page, server: Server) -> None:
    page.goto(f"{server.url}/chat")
    with page.expect_navigation():
        page.get_by_test_id("new-chat").click()
    wait_socket(page)
    limit = Settings().max_message_chars
    # The page refuses an over-long message itself (tests/e2e/test_rough_edges.py); without that check, as a
    # client that skips it would be, the server's own answers must still come.
    page.evaluate("document.getElementById('chat-input').removeAttribute('data-max-chars')")
    send(page, "x" * (limit + 1))  # over the message cap: the server answers, the socket stays
    expect(page.locator("#chat-notices [role=alert]")).to_contain_text("too long")
    wait_idle(page)
    send(page, "y" * (max_frame_size(limit) + 1))  # over uvicorn's frame cap: closed with 1009, the page says so
    expect(page.locator("#chat-notices [role=alert]")).to_contain_text("far too long")
    expect(page.get_by_test_id("send")).to_be_enabled()
    assert page.evaluate("window.__violations") == []
