"""Whatever a browser (or anyone) sends, the chat answers as documented: an inline notice for a bad frame,
"not found" for a bad id; never an HTTP 500, never a traceback in the log, and the socket stays up."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from tests.unit.test_routes import BROWSER, ORIGIN, host_app, new_chat
from varro.chat.protocol import Action, Invalid, parse_frame

# Digits `str.isdigit()` accepts and `int()` refuses, numbers too big for the database, and near misses.
ODD_NUMBERS = ["²", "¹²", "١٢", "𝟙", "٣", "0", "-1", "+1", " 1", "1 ", "1e3", "0x1", "1_0", "9" * 19, "9" * 40, ""]
values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.sampled_from(ODD_NUMBERS), st.text(max_size=12),
    st.lists(st.text(max_size=3), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
forms = st.fixed_dictionaries({}, optional={
    "action": st.one_of(st.sampled_from(["send", "edit", "stop", "reset", "hello", "fly"]), values),
    "msg": values, "turn": values, "known": values,
    "HEADERS": st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=2),
})
frames = st.one_of(forms.map(json.dumps), st.text(max_size=40), st.binary(max_size=40),
                   st.sampled_from(["null", "[]", "1", '"send"', "{", '{"action": "send", "msg": "\\ud800"}']))
ids = st.one_of(st.sampled_from(ODD_NUMBERS), st.text(max_size=10), st.integers().map(str))


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    logged = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not logged, [r.getMessage() for r in logged]


@given(frames)
@settings(max_examples=400, deadline=None)
def test_parsing_any_frame_gives_an_action_or_a_reason(raw: str | bytes) -> None:
    action: Action = parse_frame(raw, 100)
    if isinstance(action, Invalid):
        assert action.reason.endswith(".") and len(action.reason) < 120


@pytest.mark.parametrize("turn", ["²", "١", "𝟙", "9" * 40, "-1", " 1"])
def test_an_edit_of_an_odd_turn_says_which_message_is_missing(turn: str) -> None:
    action = parse_frame(json.dumps({"action": "edit", "turn": turn, "msg": "hi"}), 100)
    assert isinstance(action, Invalid) and "which message" in action.reason


def fuzz_app(tmp_path: Path):  # noqa: ANN201  (FastHTML app)
    return host_app(tmp_path, ws_frames_per_s=1e6, ws_frame_burst=1_000_000, address_frames_per_s=1e6,
                    address_frame_burst=1_000_000, turns_per_min=1_000_000, demo_tps=0)


def test_fuzzed_frames_get_an_inline_answer_and_the_socket_stays_up(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with TestClient(fuzz_app(tmp_path), headers=BROWSER) as client:
        client.get("/login/alice")
        chat = new_chat(client)
        with client.websocket_connect(f"/chat/ws?chat_id={chat}", headers=ORIGIN) as ws:
            count = iter(range(1_000_000))

            @given(frames)
            @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
            def answered(raw: str | bytes) -> None:
                (ws.send_bytes if isinstance(raw, bytes) else ws.send_text)(raw)
                # A frame with an unknown action of our own after each one: its answer proves the socket is up
                # and that everything the fuzzed frame caused has been sent.
                probe = f"probe-{next(count)}"
                ws.send_text(json.dumps({"action": probe}))
                while probe not in (reply := ws.receive_text()):
                    assert "Something went wrong" not in reply

            answered()
    no_tracebacks(caplog)


def test_fuzzed_ids_in_urls_and_the_socket_query_are_refused_cleanly(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with TestClient(fuzz_app(tmp_path), headers=BROWSER) as client:  # it raises any server exception: a 500 fails the test
        client.get("/login/alice")
        new_chat(client)

        @given(ids)
        @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
        def refused(raw: str) -> None:
            q = quote(raw, safe="")
            for path in [f"/chat/{q}", f"/chat/history?current={q}", f"/chat/{q}/export.md", f"/chat/uploads/{q}",
                         f"/chat/{q}/rename"]:
                resp = client.post(path) if path.endswith("rename") else client.get(path)
                assert resp.status_code < 500, path
            with client.websocket_connect(f"/chat/ws?chat_id={q}", headers=ORIGIN) as ws:
                ws.send_text('{"action": "probe"}')
                first = ws.receive_text()
                assert "not found" in first or "probe" in first
                if "not found" in first:
                    with pytest.raises(WebSocketDisconnect) as closed:
                        ws.receive_text()
                    assert closed.value.code == 4404

        refused()
    no_tracebacks(caplog)
