"""A long chat goes out in batches: the page shows the latest turns, the "earlier" route the batch before a turn,
and a catch-up only what the tab lacks (app/turn_window.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from fasthtml.common import FastHTML
from starlette.testclient import TestClient

from app.turn_window import BATCH_BYTES, BATCH_TURNS, PAGE_TURNS
from tests.longchat import write_chat
from tests.unit.test_routes import ORIGIN, host_app

TURN = re.compile(r'<div data-turn="\d+" id="turn-(\d+)"')


@pytest.fixture
def app(tmp_path: Path) -> FastHTML:
    # These tests say hello more often than a user may (the budgets have tests of their own).
    return host_app(tmp_path, ws_frames_per_s=1000, ws_frame_burst=1000, hello_per_s=1000, hello_burst=1000)


def db(tmp_path: Path) -> Path:
    return tmp_path / "db.sqlite"


def shown(html: str) -> list[int]:
    return [int(k) for k in TURN.findall(html)]


def control(html: str) -> str:
    """The "Show earlier messages" button in `html`."""
    found = re.search(r'<button[^>]*id="load-earlier"[^>]*>', html)
    assert found, "no load-earlier control"
    return found.group(0)


def earlier_of(html: str) -> int | None:
    """The turn the control fetches the batch before, or None when it is hidden."""
    button = control(html)
    if " hidden" in button:
        return None
    found = re.search(r'hx-get="/chat/\d+/earlier\?before=(\d+)"', button)
    assert found, button
    return int(found.group(1))


def test_the_page_shows_the_latest_batch_and_each_batch_leads_to_the_one_before(
        clients: tuple[TestClient, TestClient], tmp_path: Path) -> None:
    alice, _ = clients
    chat = write_chat(db(tmp_path), 1, 70)
    page = alice.get(f"/chat/{chat}").text
    first = 70 - PAGE_TURNS
    assert shown(page) == list(range(first, 70)), "the latest turns, in order"
    assert earlier_of(page) == first and 'data-testid="load-earlier"' in control(page)
    seen = shown(page)
    before: int | None = first
    while before is not None:
        batch = alice.get(f"/chat/{chat}/earlier?before={before}")
        assert batch.status_code == 200
        assert shown(batch.text)[-1] == before - 1, "the batch ends just above the first turn shown"
        assert "hx-swap-oob" in control(batch.text), "and replaces the control with the one for the batch before"
        seen = shown(batch.text) + seen
        before = earlier_of(batch.text)
    assert seen == list(range(70)), "no gap, no duplicate"
    assert len(shown(alice.get(f"/chat/{chat}/earlier?before={first}").text)) == BATCH_TURNS


def test_a_batch_stops_at_about_its_size_but_always_holds_the_last_turn(
        clients: tuple[TestClient, TestClient], tmp_path: Path) -> None:
    alice, _ = clients
    big = BATCH_BYTES // 3  # markdown of this many characters renders to a little more HTML
    chat = write_chat(db(tmp_path), 1, 10, answer=lambda k: f"Paragraph {k}. " + "word " * (big // 5))
    page = alice.get(f"/chat/{chat}").text
    assert shown(page) == [8, 9], "two turns of a third of the budget each, not a third that would pass it"
    assert earlier_of(page) == 8
    huge = write_chat(db(tmp_path), 1, 3, answer=lambda k: "word " * (BATCH_BYTES // 2))
    page = alice.get(f"/chat/{huge}").text
    assert shown(page) == [2] and len(page) > BATCH_BYTES, "a turn larger than the budget is shown whole, alone"
    assert shown(alice.get(f"/chat/{huge}/earlier?before=2").text) == [1]


def test_a_short_chat_has_no_control_and_an_empty_one_shows_the_welcome(
        clients: tuple[TestClient, TestClient], tmp_path: Path) -> None:
    alice, _ = clients
    chat = write_chat(db(tmp_path), 1, 3)
    page = alice.get(f"/chat/{chat}").text
    assert shown(page) == [0, 1, 2] and earlier_of(page) is None
    empty = write_chat(db(tmp_path), 1, 0)
    page = alice.get(f"/chat/{empty}").text
    assert shown(page) == [] and earlier_of(page) is None and 'data-testid="welcome"' in page


def test_another_users_chat_and_bad_indexes_are_not_found(
        clients: tuple[TestClient, TestClient], tmp_path: Path) -> None:
    alice, bob = clients
    chat = write_chat(db(tmp_path), 1, 40)
    assert alice.get(f"/chat/{chat}/earlier?before=10").status_code == 200
    resp = bob.get(f"/chat/{chat}/earlier?before=10")
    assert resp.status_code == 404 and "quokkas" not in resp.text
    for before in ("", "0", "40", "41", "-1", "abc", "1e3", "٣", "9" * 30):
        assert alice.get(f"/chat/{chat}/earlier", params={"before": before}).status_code == 404, before
    assert alice.get(f"/chat/{chat + 1}/earlier?before=10").status_code == 404
    assert alice.get(f"/chat/{'9' * 19}/earlier?before=10").status_code == 404


def test_a_search_result_opens_the_page_from_its_turn(clients: tuple[TestClient, TestClient], tmp_path: Path) -> None:
    alice, _ = clients
    chat = write_chat(db(tmp_path), 1, 100)
    page = alice.get(f"/chat/{chat}?at=12").text
    assert shown(page) == list(range(12, 100)) and earlier_of(page) == 12
    assert shown(alice.get(f"/chat/{chat}?at=0").text) == list(range(100))
    for at in ("95", "100", "5000", "-3", "x"):  # in the latest batch anyway, or not a turn: the latest batch
        assert shown(alice.get(f"/chat/{chat}", params={"at": at}).text) == list(range(100 - PAGE_TURNS, 100)), at
    results = alice.get("/chat/search", params={"q": "Question 12 about"}).text
    assert re.search(rf'href="/chat/{chat}\?at=12&(amp;)?turn=\d+#turn-12"', results), "opened at turn 12, its version named"


def test_shell_reset_markers_show_once_each_in_the_batch_holding_their_turn(
        clients: tuple[TestClient, TestClient], tmp_path: Path) -> None:
    alice, _ = clients
    edges = [70 - PAGE_TURNS - BATCH_TURNS, 70 - PAGE_TURNS]  # the first turn of each of the two batches after 0
    resets = [0, edges[0] - 1, edges[0], 40, edges[1], 70]  # on both sides of a boundary, inside one, at each end
    chat = write_chat(db(tmp_path), 1, 70, resets=resets)
    pages = [alice.get(f"/chat/{chat}").text]
    while (before := earlier_of(pages[0])) is not None:
        pages.insert(0, alice.get(f"/chat/{chat}/earlier?before={before}").text)
    assert len(pages) == 3, "the page, and two batches before it"
    markers = re.compile(r'data-testid="shell-reset-(\d+)"|<div data-turn="\d+" id="turn-(\d+)"')
    order = [("m" if m else "t") + (m or t) for m, t in markers.findall("".join(pages))]
    assert order[:2] == ["m0", "t0"]
    for k in resets[1:-1]:
        assert order[order.index(f"t{k}") - 1] == f"m{k}", k
    assert order[-2:] == ["t69", "m70"], "a reset after the last turn follows it"
    assert sorted(o for o in order if o[0] == "m") == sorted(f"m{k}" for k in resets), "each marker once"


def hello(client: TestClient, chat: int, known: int) -> str:
    """The catch-up frame a tab showing the turns below `known` gets (nothing runs: it comes first, or not at all)."""
    with client.websocket_connect(f"/chat/ws?chat_id={chat}", headers=ORIGIN) as ws:
        ws.send_text(json.dumps({"action": "hello", "known": known}))
        ws.send_text("{not json")  # answered after the catch-up: the marker that it is complete
        frames = ""
        while "not valid JSON" not in frames:
            frames += ws.receive_text()
    return frames


def test_a_catch_up_sends_only_what_the_tab_lacks_and_at_most_a_batch(
        clients: tuple[TestClient, TestClient], tmp_path: Path) -> None:
    alice, _ = clients
    chat = write_chat(db(tmp_path), 1, 70, resets=[70])
    up_to_date = hello(alice, chat, 70)
    assert shown(up_to_date) == [] and "load-earlier" not in up_to_date
    assert "shell-reset-70" in up_to_date, "the page drops the markers after its last turn on a reconnect: sent again"
    lacking = hello(alice, chat, 66)
    assert shown(lacking) == [66, 67, 68, 69] and 'hx-swap-oob="beforeend"' in lacking
    assert "shell-reset-70" in lacking and "load-earlier" not in lacking
    for known in (0, 39, 71, 500):  # more than a batch behind, or turns removed elsewhere: the latest batch, redrawn
        redraw = hello(alice, chat, known)
        assert shown(redraw) == list(range(70 - PAGE_TURNS, 70)) and 'hx-swap-oob="innerHTML"' in redraw, known
        assert earlier_of(redraw) == 70 - PAGE_TURNS and "hx-swap-oob" in control(redraw)


def test_a_catch_up_of_a_chat_emptied_elsewhere_hides_the_control(
        clients: tuple[TestClient, TestClient], tmp_path: Path) -> None:
    alice, _ = clients
    chat = write_chat(db(tmp_path), 1, 0)
    frames: Any = hello(alice, chat, 3)
    assert shown(frames) == [] and earlier_of(frames) is None
