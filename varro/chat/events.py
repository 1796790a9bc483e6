"""Typed events a chat session emits while it runs a turn; `app` renders them with `ui` and sends them.

Addresses: `turn` is the turn index k; `node` counts model responses and tool steps within the turn
(pydantic-ai's part index restarts per response, so it is never used alone); `part` is the part's
index within its node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic_ai.messages import ModelMessage, ModelRequest, ModelResponse, ToolCallPart

from varro.chat.content import Attachment
from varro.files import ChatFile

PartKind = Literal["text", "thinking", "tool_call"]
Progress = Literal["thinking", "writing", "tool", "restoring", "done"]
TurnStatus = Literal["complete", "stopped", "error"]


@dataclass(frozen=True)
class TurnStarted:
    turn: int
    user_text: str
    replaces: bool = False  # an edit: the page's turn k is replaced rather than a new one appended
    files: tuple[ChatFile, ...] = ()  # uploaded with the message
    versions: tuple[int, int] | None = None  # an edit's: which version of turn k this is, of how many


@dataclass(frozen=True)
class NodeStarted:
    turn: int
    node: int


@dataclass(frozen=True)
class PartStarted:
    turn: int
    node: int
    part: int
    kind: PartKind
    content: str = ""
    tool_name: str | None = None


@dataclass(frozen=True)
class PartDelta:
    turn: int
    node: int
    part: int
    text: str


@dataclass(frozen=True)
class ResponseFinished:
    """A model response ended: its full block replaces the live node container."""

    turn: int
    node: int
    response: ModelResponse


@dataclass(frozen=True)
class ToolsFinished:
    """A tool step ended: its results (with any saved images) form one block."""

    turn: int
    node: int
    request: ModelRequest
    attachments: dict[str, list[Attachment]] = field(default_factory=dict)
    calls: list[ToolCallPart] = field(default_factory=list)  # the response's calls, in the order it made them


@dataclass(frozen=True)
class CellStarted:
    """A code cell began in tool step `node`: its output streams as `PartDelta`s to part `CELL_OUTPUT` of that node
    until `ToolsFinished` replaces the node with the finished result."""

    turn: int
    node: int
    started_at: float  # epoch seconds, for the page's elapsed-time counter


CELL_OUTPUT = 0  # a tool step has no parts of its own: its live cell output takes this index


@dataclass(frozen=True)
class ProgressChanged:
    turn: int
    state: Progress
    detail: str = ""


@dataclass(frozen=True)
class TurnFailed:
    turn: int
    message: str


@dataclass(frozen=True)
class Notice:
    """Something the user should know that is not part of the answer (e.g. restored state differs).

    `refs` name earlier turns the way the page shows them: (turn index, the start of its message).
    """

    turn: int
    message: str
    refs: tuple[tuple[int, str], ...] = ()
    offer: bool = False  # with "Run these again": a restore's cells, offered rather than run


@dataclass(frozen=True)
class ShellChanged:
    """The kernel's state changed (not started, starting, idle, busy); `names`: what it holds, when known."""

    status: str
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class ShellWasReset:
    """The user reset the shell; later turns start from an empty namespace."""

    before_turn: int


@dataclass(frozen=True)
class TitleChanged:
    title: str


@dataclass(frozen=True)
class TurnFinished:
    turn: int
    status: TurnStatus
    meta: dict[str, Any] = field(default_factory=dict)


Event = (
    TurnStarted | NodeStarted | PartStarted | PartDelta | ResponseFinished | ToolsFinished | CellStarted
    | ProgressChanged | TurnFailed | Notice | ShellChanged | ShellWasReset | TitleChanged | TurnFinished
)


@dataclass(frozen=True)
class TurnStored:
    """A turn was written to the database; a host's `on_event` hook gets this (audit, billing, analytics).

    `messages` are the turn's pydantic-ai messages as stored; `meta` has the model name, usage, duration and
    any error. Not sent to the page.
    """

    user_id: int
    chat_id: int
    turn: int
    status: TurnStatus
    user_text: str
    messages: list[ModelMessage]
    meta: dict[str, Any]
