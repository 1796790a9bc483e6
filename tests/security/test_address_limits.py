"""Budgets per client address and turns a minute per user, through the real server (tests/security/host.py).

The test client is a trusted proxy here (VARRO_TRUSTED_PROXIES=127.0.0.1): each tab names its own client address in
X-Forwarded-For, so each test has addresses of its own and their budgets never meet.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest
from playwright.sync_api import Page, expect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from app.refusals import ADDRESS_FLOODED, CROWDED
from tests.e2e.server import Server
from tests.security.client import Tab, flood_once, stored_turns
from tests.security.conftest import host_server
from tests.security.test_limits import assert_bystander_intact, close_code

CAP = 4  # sockets at once from one address
RATE, BURST = 5, 20  # frames from one address, across its users (each user: the default 10 a second, 30 saved)
TURNS = 3  # a minute, per user
STREAM = "/stream 300 at 150"  # the bystander's two seconds of text


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with host_server(tmp_path_factory.mktemp("address-limits"), VARRO_TRUSTED_PROXIES="127.0.0.1",
                     VARRO_MAX_SOCKETS_PER_ADDRESS=str(CAP), VARRO_ADDRESS_FRAMES_PER_S=str(RATE),
                     VARRO_ADDRESS_FRAME_BURST=str(BURST), VARRO_TURNS_PER_MIN=str(TURNS)) as srv:
        yield srv


async def signed_in(host: Server, name: str, address: str) -> Tab:
    tab = Tab(host.url, name, forwarded_for=address)
    await tab.sign_in()
    return tab


async def bystander(host: Server, address: str) -> Tab:
    """Another user, at another address, in the middle of a streamed answer."""
    bob = await signed_in(host, f"bob-{address}", address)
    await bob.open()
    await bob.send(STREAM)
    await bob.recv(10)
    return bob


async def test_a_reconnect_flood_across_accounts_is_held_by_the_address_budget(host: Server) -> None:
    """Each account alone is within its own budget (30 saved, 10 a second); three of them from one address used to
    get three budgets. The address's budget (20 saved, 5 a second) is what holds now."""
    bob = await bystander(host, "198.51.100.1")
    accounts = [await signed_in(host, f"mallory{i}", "203.0.113.1") for i in range(3)]
    answered, codes = 0, Counter[int | None]()
    clock = asyncio.get_running_loop().time
    started = clock()

    async def reconnecting(account: Tab) -> None:
        nonlocal answered
        tab = Tab(host.url, account.name, account.cookies, account.chat_id, forwarded_for="203.0.113.1")
        while clock() < started + 3:
            handled, code = await flood_once(tab)  # awaited first: `answered +=` around an await loses updates
            answered += handled
            codes[code] += 1

    await asyncio.gather(*(reconnecting(a) for a in accounts))
    elapsed = clock() - started
    print(f"\naddress reconnect flood: 3 accounts, {answered} frames handled in {elapsed:.1f} s, closes {dict(codes)}")
    assert codes[ADDRESS_FLOODED] > 0
    assert answered <= BURST + RATE * elapsed + 1, (answered, elapsed)
    logged = host.output().count("at 203.0.113.1: too many")
    assert 0 < logged <= 3, f"{logged} lines: a refusal is logged once a minute per address and reason"
    assert_bystander_intact(host, bob, await bob.wait_turn(0, 30))
    await bob.close()


async def test_sockets_past_the_cap_from_one_address_are_refused_with_the_reason(host: Server) -> None:
    held = [await signed_in(host, f"crowd{i}", "203.0.113.2") for i in range(CAP + 1)]
    for tab in held[:CAP]:
        await tab.open()
    last = held[CAP]
    with contextlib.suppress(ConnectionClosed):  # its hello may meet the close
        await last.open()
    assert await close_code(last) == CROWDED
    assert any(f"Too many connections from your network address at once (the limit is {CAP})" in f for f in last.frames)
    elsewhere = await signed_in(host, "crowd-elsewhere", "203.0.113.3")  # another address: unaffected
    await elsewhere.open()
    await elsewhere.send("hello")
    assert await elsewhere.wait_turn(0, 30) == "complete"
    await held[0].close()  # a place is free again, once the server has read the close
    for _ in range(20):
        await asyncio.sleep(0.25)
        with contextlib.suppress(ConnectionClosed):  # still crowded: the notice and the close come at once
            await last.open()
            await last.send("hello")
            assert await last.wait_turn(0, 30) == "complete"
            break
    else:
        raise AssertionError("the closed socket's place never came back")
    for tab in [*held, elsewhere]:
        await tab.close()


async def test_turns_past_the_minute_limit_are_refused_and_nothing_stored_is_lost(host: Server) -> None:
    tab = await signed_in(host, "talker", "203.0.113.4")
    await tab.open()
    for k in range(TURNS):
        await tab.send(f"message {k}")
        assert await tab.wait_turn(k, 30) == "complete"
    await tab.send("one too many")
    refused = ""
    while "data-refused" not in refused:
        refused = await tab.recv(10)
    assert f"more than {TURNS} messages in a minute" in refused and "Try again in" in refused
    assert [(t["user_text"], t["status"]) for t in stored_turns(host.db_path, tab.chat_id)] == \
        [(f"message {k}", "complete") for k in range(TURNS)]
    other = await signed_in(host, "talker-two", "203.0.113.4")  # the same address, another user: their own turns
    await other.open()
    await other.send("hello")
    assert await other.wait_turn(0, 30) == "complete"
    await tab.close()
    await other.close()


def test_server_log_is_clean(host: Server) -> None:
    assert "Traceback" not in host.output()


COUNT_CONNECTS = ("document.addEventListener('htmx:wsConnecting', "
                  "() => { window.__connects = (window.__connects || 0) + 1; });")


def hold_socket(host: Server, name: str, stack: ExitStack) -> None:
    """A tab of user `name` holding a socket open from 127.0.0.1 (no forwarded address: the peer's own)."""
    with httpx.Client(trust_env=False, headers={"Origin": host.url}) as http:
        http.get(f"{host.url}/login/{name}")
        chat = http.post(f"{host.url}/chat/new").headers["location"].rsplit("/", 1)[1]
        cookies = "; ".join(f"{k}={v}" for k, v in http.cookies.items())
    ws = stack.enter_context(connect(f"{host.url.replace('http', 'ws', 1)}/chat/ws?chat_id={chat}", origin=host.url,
                                     additional_headers={"Cookie": cookies}))
    ws.send(json.dumps({"action": "hello", "known": 0}))


def test_a_tab_refused_for_crowding_says_why_and_does_not_reconnect(page: Page, host: Server) -> None:
    page.add_init_script(COUNT_CONNECTS)
    with ExitStack() as stack:
        for i in range(CAP):
            hold_socket(host, f"holder{i}", stack)
        page.goto(f"{host.url}/login/latecomer")
        page.goto(f"{host.url}/chat")
        expect(page.locator("#chat-notices [role=alert]")).to_contain_text("Too many connections from your network")
        page.wait_for_timeout(3000)  # htmx would have reopened a dropped socket well within this (app: at most 2 s)
        assert page.evaluate("window.__connects") == 1
        page.locator("#chat-input").fill("are you there?")
        page.locator("#chat-input").press("Enter")
        expect(page.locator("#chat-notices [role=alert]")).to_contain_text("too many connections from this address")
        expect(page.locator("#chat-input")).to_have_value("are you there?")
        expect(page.get_by_test_id("send")).to_be_enabled()
