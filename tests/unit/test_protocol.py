"""Frames from the browser: what is accepted and what gets a clear reason."""

from __future__ import annotations

import json

import pytest

from varro.chat.protocol import Edit, Hello, Invalid, Rerun, Run, Send, Stop, Switch, parse_frame


def frame(**data: object) -> str:
    return json.dumps({**data, "HEADERS": {"HX-Request": "true"}})


def test_valid_actions() -> None:
    assert parse_frame(frame(action="send", msg=" hi "), 100) == Send(msg="hi")
    assert parse_frame(frame(action="edit", turn="2", msg="new"), 100) == Edit(turn=2, msg="new")
    assert parse_frame(frame(action="stop"), 100) == Stop()
    assert parse_frame(frame(action="switch", turn="1", to="0"), 100) == Switch(turn=1, to=0)
    assert parse_frame(frame(action="hello", known=3), 100) == Hello(known=3, running=False)
    assert parse_frame(frame(action="hello", known=0, running=True), 100) == Hello(known=0, running=True)
    assert parse_frame(frame(action="run", code="print(1)\n"), 100) == Run(code="print(1)\n")  # kept as written
    assert parse_frame(frame(action="rerun"), 100) == Rerun()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "expected a form"),
        (frame(action="fly", msg="x"), "Unknown action"),
        (frame(msg="x"), "Unknown action"),
        (frame(action="send", msg="   "), "Write a message"),
        (frame(action="send", msg=["a", "b"]), "Write a message"),
        (frame(action="send", msg="x" * 101), "too long"),
        (frame(action="edit", msg="x"), "which message"),
        (frame(action="edit", turn="-1", msg="x"), "which message"),
        (frame(action="switch", turn="1"), "which version"),
        (frame(action="switch", turn="1", to="-1"), "which version"),
        (frame(action="run"), "no code to run"),
        (frame(action="run", code=" \n "), "no code to run"),
        (frame(action="run", code="x" * 101), "too long"),
        ("x" * 10_000, "too long"),
    ],
)
def test_bad_frames_say_why(raw: str, reason: str) -> None:
    result = parse_frame(raw, 100)
    assert isinstance(result, Invalid) and reason in result.reason
