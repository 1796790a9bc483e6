"""Render session events as websocket frames: top-level elements, each with an id and `hx-swap-oob`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from fasthtml.common import Div, to_xml

from app.live_parts import LiveParts
from app.urls import ChatUrls
from ui import ids
from ui.header import ShellStatus
from ui.layout import Progress
from ui.nodes import LiveCell, NodeContainer, ToolsBlock
from ui.turns import ErrorBlock, NoticeBlock, ShellResetMarker, StoredTurn, TurnMeta, TurnShell
from varro.chat.content import attachments_of, files_of, messages_of, meta_of
from varro.chat.events import (
    CellStarted,
    Event,
    NodeStarted,
    Notice,
    PartDelta,
    PartStarted,
    ProgressChanged,
    ResponseFinished,
    ShellChanged,
    ShellWasReset,
    TitleChanged,
    ToolsFinished,
    TurnFailed,
    TurnFinished,
    TurnStarted,
)
from varro.db.models import Turn


def stored_turn(urls: ChatUrls, turn: Turn, versions: tuple[int, int] | None = None,
                image_url: Callable[[str], str] | None = None) -> Any:
    """A stored turn, rendered as the live stream rendered it when it finished; `versions`: which of how many;
    `image_url`: where its figures come from (the owner's uploads by default; a shared page's own route)."""
    c = turn.content
    # A shared page (its own `image_url`) links no full outputs: those are the owner's files.
    output_url = partial(urls.output, turn.chat_id) if image_url is None else None
    meta = meta_of(c)
    if image_url is not None and meta.get("notices"):  # nor does it run anything: a restore's offer is words only
        meta = {**meta, "notices": [{**n, "offer": False} for n in meta["notices"]]}
    return StoredTurn(turn.idx, turn.user_text, turn.status, messages_of(c), attachments_of(c), meta,
                      image_url or urls.upload, files_of(c), output_url=output_url, versions=versions)


def append_to(target: str, *children: Any) -> Any:
    return Div(*children, id=target, hx_swap_oob="beforeend")


class Renderer:
    """Turns events into HTML; `image_url` maps a stored attachment path to its URL, `title` renders the header title.

    One per connection: it remembers what the live parts of the current turn show (`LiveParts`).
    """

    def __init__(self, image_url: Callable[[str], str], title: Callable[[str], Any],
                 output_url: Callable[[str], str] | None = None) -> None:
        self.image_url = image_url
        self.output_url = output_url
        self.title = title
        self.live = LiveParts()

    def fragments(self, event: Event) -> list[Any]:
        """The elements for an event, in order; parts of a streaming response go through `LiveParts`."""
        match event:
            case PartDelta():
                return self.live.delta(event)
            case ResponseFinished():
                return self.live.finished(event)
            case PartStarted(turn=k, node=n):
                return [append_to(ids.node(k, n), self.live.started(event))]
            case TurnStarted():
                self.live.reset()
        return [self.fragment(event)]

    def fragment(self, event: Event) -> Any:
        """The one element for an event that needs no memory of the stream."""
        match event:
            case TurnStarted(turn=k, user_text=text, replaces=replaces, files=files, versions=versions):
                shell = TurnShell(k, text, files=files, versions=versions)
                cleared = Div(id=ids.NOTICES, hx_swap_oob="innerHTML")  # old notices are answered by now
                if replaces:
                    shell.attrs["hx-swap-oob"] = "true"
                    return shell, cleared
                return append_to(ids.TURNS, shell), cleared
            case NodeStarted(turn=k, node=n):
                return append_to(ids.assistant(k), NodeContainer(k, n))
            case CellStarted(turn=k, node=n, started_at=started_at):
                return append_to(ids.node(k, n), LiveCell(k, n, started_at))
            case ToolsFinished(turn=k, node=n, request=request, attachments=attachments, calls=calls):
                return ToolsBlock(k, n, request, attachments, self.image_url, oob=True, calls=calls,
                                  output_url=self.output_url)
            case ProgressChanged(state=state, detail=detail):
                return Progress(state, detail, oob=True)
            case TurnFailed(turn=k, message=message):
                return append_to(ids.assistant(k), ErrorBlock(message))
            case Notice(turn=k, message=message, refs=refs, offer=offer):
                return append_to(ids.assistant(k), NoticeBlock(message, refs, offer))
            case TitleChanged(title=title):
                return self.title(title)
            case ShellChanged(status=status, names=names):
                return ShellStatus(status, names, oob=True)
            case ShellWasReset(before_turn=k):
                return append_to(ids.TURNS, ShellResetMarker(k))
            case TurnFinished(turn=k, status=status, meta=meta):
                return TurnMeta(k, status, meta, oob=True)
        raise TypeError(f"no fragment for {event!r}")

    def frame(self, events: Sequence[Event]) -> str:
        # A fragment already HTML (ui/spliced.py) goes as it is.
        return "".join(f if isinstance(f, str) else to_xml(f, indent=False) for e in events for f in self.fragments(e))
