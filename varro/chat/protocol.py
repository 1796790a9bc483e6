"""Frames from the browser (htmx `ws-send` of a form, as JSON): parse them, or say what is wrong."""

from __future__ import annotations

import json
from dataclasses import dataclass


@dataclass(frozen=True)
class Send:
    msg: str


@dataclass(frozen=True)
class Edit:
    turn: int
    msg: str


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class Reset:
    """Clear the shell's namespace."""


@dataclass(frozen=True)
class Hello:
    """A tab's socket opened; its page shows the finished turns below `known`."""

    known: int


@dataclass(frozen=True)
class Invalid:
    reason: str


Action = Send | Edit | Stop | Reset | Hello | Invalid

# Room for the form's other fields and htmx's HEADERS around the message.
FRAME_OVERHEAD = 8192


def max_frame_size(max_chars: int) -> int:
    """The longest frame a valid message can make: JSON escaping grows a character to at most 6 bytes
    (`\\u0000`). uvicorn's `ws_max_size` is set to this, so anything it lets through gets a clear answer here."""
    return max_chars * 6 + FRAME_OVERHEAD


def _text(value: object) -> str | None:
    # A form field htmx sends twice arrives as a list; we take none of those.
    return value if isinstance(value, str) else None


def parse_frame(raw: str | bytes, max_chars: int) -> Action:
    if len(raw) > max_frame_size(max_chars):  # refuse before parsing
        return Invalid(f"That message is too long (the limit is {max_chars:,} characters).")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return Invalid("The server could not read that message (it was not valid JSON).")
    if not isinstance(data, dict):
        return Invalid("The server could not read that message (expected a form).")
    action = data.get("action")
    if action == "stop":
        return Stop()
    if action == "reset":
        return Reset()
    if action == "hello":
        known = data.get("known")
        return Hello(known) if isinstance(known, int) and known >= 0 else Invalid("A hello must say what the page shows.")
    if action not in ("send", "edit"):
        return Invalid(f"Unknown action {str(action)[:40]!r}.")
    msg = _text(data.get("msg"))
    if msg is None or not msg.strip():
        return Invalid("Write a message first.")
    if len(msg) > max_chars:
        return Invalid(f"That message is too long ({len(msg):,} characters; the limit is {max_chars:,}).")
    if action == "send":
        return Send(msg.strip())
    turn = _text(data.get("turn"))
    if turn is None or not turn.isdigit():
        return Invalid("That edit does not say which message it changes.")
    return Edit(int(turn), msg.strip())
