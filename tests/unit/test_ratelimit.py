"""Budgets per user and per client address (varro/chat/ratelimit.py), and how the socket applies them (app/ws.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from app.refusals import CROWDED
from tests.security.client import stored_turns, turn_statuses
from tests.unit.test_routes import BROWSER, ORIGIN, host_app, new_chat, read_until
from varro.chat.ratelimit import Budgets, Limits, Over, Sockets, too_many_turns
from varro.config import Settings


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def limits(clock: Clock, **settings: float) -> Limits:
    made = Limits.of(Settings(**settings))
    for budgets in (made.frames, made.hellos, made.turns, made.address_frames):
        budgets.clock = clock
    return made


def test_a_budget_says_how_long_until_it_has_a_token_again() -> None:
    clock = Clock()
    budgets = Budgets(rate=0.5, burst=2, clock=clock)
    assert budgets.wait("a") == 0 and budgets.take("a") and budgets.take("a") and not budgets.take("a")
    assert budgets.wait("a") == pytest.approx(2.0)
    clock.now += 1.5
    assert budgets.wait("a") == pytest.approx(0.5) and budgets.wait("b") == 0


def test_sockets_are_capped_per_key_and_given_back() -> None:
    sockets = Sockets(cap=2)
    assert sockets.enter("a") and sockets.enter("a") and not sockets.enter("a")
    assert sockets.enter("b"), "another address is not affected"
    sockets.leave("a")
    assert sockets.enter("a") and not sockets.enter("a")
    for _ in range(3):
        sockets.leave("b")  # never below nothing: a stray leave gives no extra place
    assert sockets.open == {"a": 2}


def test_many_users_from_one_address_spend_one_address_budget() -> None:
    clock = Clock()
    lim = limits(clock, ws_frames_per_s=10, ws_frame_burst=3, address_frames_per_s=10, address_frame_burst=5)
    spent = [lim.spend(user, "192.0.2.1") for user in range(1, 4) for _ in range(3)]  # each user within their own 3
    assert spent[:5] == [None] * 5 and set(spent[5:]) == {Over.ADDRESS_FRAMES}
    assert lim.spend(9, "198.51.100.1") is None, "another address has its own budget"
    clock.now += 0.1  # one token back, for the address and for each user
    assert lim.spend(1, "192.0.2.1") is None


def test_a_user_past_their_budget_costs_the_address_nothing() -> None:
    lim = limits(Clock(), ws_frames_per_s=1, ws_frame_burst=2, address_frames_per_s=1, address_frame_burst=4)
    assert [lim.spend(1, "192.0.2.1") for _ in range(10)] == [None, None] + [Over.USER_FRAMES] * 8
    assert [lim.spend(2, "192.0.2.1") for _ in range(3)] == [None, None, Over.USER_FRAMES]


def test_opening_past_the_address_cap_is_refused_until_one_leaves() -> None:
    lim = limits(Clock(), max_sockets_per_address=2)
    assert [lim.enter(user, "192.0.2.1") for user in (1, 2, 3)] == [None, None, Over.ADDRESS_SOCKETS]
    assert lim.enter(4, "198.51.100.1") is None
    lim.leave("192.0.2.1")
    assert lim.enter(3, "192.0.2.1") is None


def test_turns_a_minute_refuse_with_when_to_try_again() -> None:
    clock = Clock()
    lim = limits(clock, turns_per_min=3)
    assert [lim.turn_refusal(1) for _ in range(3)] == [None] * 3
    why = lim.turn_refusal(1)
    assert why == too_many_turns(3, 20) and "more than 3 messages in a minute" in why and "in 20 seconds" in why
    assert lim.turn_refusal(2) is None, "another user has their own"
    clock.now += 19.5
    assert "in 1 second;" in (lim.turn_refusal(1) or "")
    clock.now += 0.5
    assert lim.turn_refusal(1) is None


def test_a_send_past_the_turns_a_minute_is_refused_and_keeps_the_text(tmp_path: Path) -> None:
    with TestClient(host_app(tmp_path, turns_per_min=2, demo_tps=0), headers=BROWSER) as alice:
        alice.get("/login/alice")
        chat = new_chat(alice)
        with alice.websocket_connect(f"/chat/ws?chat_id={chat}", headers=ORIGIN) as ws:
            ws.send_text('{"action": "hello", "known": 0}')
            for k in range(2):
                ws.send_text('{"action": "send", "msg": "hello"}')
                while k not in turn_statuses(ws.receive_text()):
                    pass
            ws.send_text('{"action": "edit", "turn": "1", "msg": "again"}')  # an edit is a turn too
            refused = read_until(ws, "data-refused")
        assert "Try again in 30 seconds; your text is kept" in refused and 'data-running="false"' in refused
    assert [t["user_text"] for t in stored_turns(tmp_path / "db.sqlite", chat)] == ["hello", "hello"]


def test_sockets_refused_or_closed_give_their_place_back(tmp_path: Path) -> None:
    """Every way a socket ends (not found, closed by the tab) leaves the address's count as it was."""
    with TestClient(host_app(tmp_path, max_sockets_per_address=2), headers=BROWSER) as alice:
        alice.get("/login/alice")
        chat = new_chat(alice)
        for _ in range(3):
            with alice.websocket_connect("/chat/ws?chat_id=999", headers=ORIGIN) as ws:
                assert "not found" in ws.receive_text()
            with alice.websocket_connect(f"/chat/ws?chat_id={chat}", headers=ORIGIN) as ws:
                ws.send_text('{"action": "hello", "known": 0}')
        with alice.websocket_connect(f"/chat/ws?chat_id={chat}", headers=ORIGIN), \
                alice.websocket_connect(f"/chat/ws?chat_id={chat}", headers=ORIGIN):
            with alice.websocket_connect(f"/chat/ws?chat_id={chat}", headers=ORIGIN) as third:
                assert "Too many connections from your network address at once (the limit is 2)" in third.receive_text()
                with pytest.raises(WebSocketDisconnect) as closed:
                    third.receive_text()
                assert closed.value.code == CROWDED and closed.value.reason == "too many connections from this address"
        assert alice.app.state.varro.limits.sockets.open == {}


def test_refusals_are_logged_once_a_minute_per_address_and_reason() -> None:
    clock = Clock()
    lim = limits(clock)
    lim.logged.clock = clock
    assert lim.worth_logging(Over.ADDRESS_FRAMES, "192.0.2.1") and not lim.worth_logging(Over.ADDRESS_FRAMES, "192.0.2.1")
    assert lim.worth_logging(Over.ADDRESS_SOCKETS, "192.0.2.1") and lim.worth_logging(Over.ADDRESS_FRAMES, "192.0.2.2")
    clock.now += 60
    assert lim.worth_logging(Over.ADDRESS_FRAMES, "192.0.2.1")
