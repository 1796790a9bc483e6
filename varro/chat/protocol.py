"""Frames from the browser (htmx `ws-send` of a form, as JSON): parse them, or say what is wrong.

Each action is a pydantic model and a frame is their union, told apart by `action`. Parsing never
raises: whatever arrives, the caller gets an action or an `Invalid` with a sentence for the user.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

# Only ASCII digits: `str.isdigit()` is true for "²" or "١", which `int()` then refuses.
_INDEX = re.compile(r"[0-9]{1,18}")  # at most 18 digits: fits the database's 64-bit integers


class _Frame(BaseModel):
    # htmx adds HEADERS and the form may carry other fields: they are ignored. Strict, so that a list or a
    # number where text belongs is refused rather than coerced.
    model_config = ConfigDict(frozen=True, extra="ignore", strict=True)


class Send(_Frame):
    action: Literal["send"] = "send"
    msg: str
    # Names of files uploaded with the message (the composer's chips): one is sent as text, several as a list.
    files: str | tuple[str, ...] = ()
    # The model picked for this turn (a `VARRO_MODELS` string); "": the chat's current one.
    model: str = ""

    @property
    def file_names(self) -> tuple[str, ...]:
        return (self.files,) if isinstance(self.files, str) else self.files


class Edit(_Frame):
    action: Literal["edit"] = "edit"
    turn: int
    msg: str


class Switch(_Frame):
    """Show version `to` (from 0) of turn `turn`, with the branch that follows it."""

    action: Literal["switch"] = "switch"
    turn: int
    to: int


class Stop(_Frame):
    action: Literal["stop"] = "stop"


class Reset(_Frame):
    """Clear the shell's namespace."""

    action: Literal["reset"] = "reset"


class Run(_Frame):
    """Run `code` in the shell as the user's own cell ("Run" on an answer's code block, "Edit & run" on a cell)."""

    action: Literal["run"] = "run"
    code: str


class Rerun(_Frame):
    """Run the cells a restore offered rather than ran ("Run these again")."""

    action: Literal["rerun"] = "rerun"


class Hello(_Frame):
    """A tab's socket opened; its page shows the finished turns below `known`, and whether it shows a run going
    on (`running`: after a server restart there is none, and the page must be told)."""

    action: Literal["hello"] = "hello"
    known: Annotated[int, Field(ge=0)]
    running: bool = False


class Invalid(_Frame):
    """Not an action: `reason` is what the user is told."""

    action: Literal["invalid"] = "invalid"
    reason: str
    keep_draft: bool = False  # the message was fine, the page gives it back to the user to send again


Action = Send | Edit | Switch | Run | Stop | Reset | Rerun | Hello | Invalid


class _EditForm(_Frame):
    """An edit as the form sends it: the turn index is a form field, so it is text."""

    action: Literal["edit"]
    turn: str
    msg: str


class _SwitchForm(_Frame):
    action: Literal["switch"]
    turn: str
    to: str


_Form = Annotated[Send | _EditForm | _SwitchForm | Run | Stop | Reset | Rerun | Hello, Field(discriminator="action")]
_FORM: TypeAdapter[Send | _EditForm | _SwitchForm | Run | Stop | Reset | Rerun | Hello] = TypeAdapter(_Form)

# Room for the form's other fields and htmx's HEADERS around the message.
FRAME_OVERHEAD = 8192


def max_frame_size(max_chars: int) -> int:
    """The longest frame a valid message can make: JSON escaping grows a character to at most 6 bytes
    (`\\u0000`). uvicorn's `ws_max_size` is set to this, so anything it lets through gets a clear answer here."""
    return max_chars * 6 + FRAME_OVERHEAD


def parse_index(text: str) -> int | None:
    """A non-negative index written in ASCII digits (a query parameter or form field), else None."""
    return int(text) if _INDEX.fullmatch(text) else None


def _reason(error: ValidationError) -> str:
    """The one sentence the user reads for the first thing wrong with the frame."""
    first = error.errors()[0]
    where, kind = first["loc"], first["type"]
    if kind in ("json_invalid", "json_type"):
        return "The server could not read that message (it was not valid JSON)."
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        action = first["input"].get("action") if isinstance(first["input"], dict) else None
        return f"Unknown action {str(action)[:40]!r}."
    if not where:
        return "The server could not read that message (expected a form)."
    if where[:1] == ("hello",):
        return "A hello must say what the page shows."
    if where[:1] == ("switch",):
        return "That switch does not say which version to show."
    if where[-1:] == ("turn",):
        return "That edit does not say which message it changes."
    if where[:1] == ("run",):
        return "There is no code to run."
    return "Write a message first."


def parse_frame(raw: str | bytes, max_chars: int, models: Collection[str] = ()) -> Action:
    """`models`: the model strings a `send` may pick (the page's picker); any other is refused."""
    if len(raw) > max_frame_size(max_chars):  # refuse before parsing
        return Invalid(reason=f"That message is too long (the limit is {max_chars:,} characters).")
    try:
        form = _FORM.validate_json(raw)
    except ValidationError as exc:
        return Invalid(reason=_reason(exc))
    if isinstance(form, Stop | Reset | Rerun | Hello):
        return form
    if isinstance(form, Run):
        if not form.code.strip():
            return Invalid(reason="There is no code to run.")
        if len(form.code) > max_chars:
            return Invalid(reason=f"That code is too long ({len(form.code):,} characters; the limit is {max_chars:,}).")
        return form
    if isinstance(form, _SwitchForm):
        turn, to = parse_index(form.turn), parse_index(form.to)
        if turn is None or to is None:
            return Invalid(reason="That switch does not say which version to show.")
        return Switch(turn=turn, to=to)
    msg = form.msg.strip()
    if not msg:
        return Invalid(reason="Write a message first.")
    if len(form.msg) > max_chars:
        return Invalid(reason=f"That message is too long ({len(form.msg):,} characters; the limit is {max_chars:,}).")
    if isinstance(form, Send):
        if form.model and form.model not in models:
            return Invalid(reason=f"The model {form.model[:60]!r} is not offered here: pick one from the list.",
                           keep_draft=True)
        return Send(msg=msg, files=tuple(dict.fromkeys(n for n in form.file_names if n)), model=form.model)
    turn = parse_index(form.turn)
    if turn is None:
        return Invalid(reason="That edit does not say which message it changes.")
    return Edit(turn=turn, msg=msg)
