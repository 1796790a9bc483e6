"""What each streaming part of a connection's current turn shows, so markdown is rendered by blocks.

A text part's markdown goes through `MarkdownBlocks`: a block that is complete is rendered once,
appended to the part's last chunk of blocks (or a new one, before the open tail) and never sent
again. The open tail is shown rendered provisionally, with what it leaves open closed
(ui/provisional.py): a delta that cannot change its structure is appended at its caret as text, any
other sets the tail anew, at a cost bounded by the open block. When the
response ends, the rest of the tail is rendered and the tail removed, so the final swap is as small
as the last open block and the page ends up exactly as a reload renders the stored response
(`ResponseBlock`). Thinking and tool-call parts stay plain text until their finished block replaces them.

One per connection (a reconnecting tab gets a new one, rebuilt from the catch-up events).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fasthtml.common import Div
from pydantic_ai.messages import TextPart, ThinkingPart, ToolCallPart

from ui import ids
from ui.md_blocks import MarkdownBlocks
from ui.nodes import (
    CHUNK_BLOCKS,
    Append,
    CopyAnswer,
    Delta,
    LivePart,
    MarkdownChunks,
    NewChunks,
    OpenPiece,
    Remove,
    ResponseBlock,
    TailHtml,
    ThinkingBlock,
    ToChunk,
    ToolCallBlock,
    call_numbers,
)
from ui.open_block import OpenBlock, Whole
from ui.provisional import appendable
from varro.chat.events import PartDelta, PartKind, PartStarted, ResponseFinished

Addr = tuple[int, int, int]


@dataclass
class _Part:
    kind: PartKind
    md: MarkdownBlocks | None  # text parts only
    open: OpenBlock | None  # text parts only: the open tail's rendering
    texts: list[str] = field(default_factory=list)  # all text so far, to check it against the final response
    blocks: int = 0  # rendered blocks so far (they fill chunks of CHUNK_BLOCKS in order)
    caret: bool = False  # the tail as last sent holds the caret, where plain characters can be appended


def _kind(part: Any) -> PartKind | None:
    if isinstance(part, TextPart):
        return "text"
    if isinstance(part, ThinkingPart):
        return "thinking"
    if isinstance(part, ToolCallPart):
        return "tool_call"
    return None


class LiveParts:
    """The live parts of one connection's current turn, by (turn, node, part)."""

    def __init__(self) -> None:
        self._parts: dict[Addr, _Part] = {}

    def reset(self) -> None:
        """A turn starts (perhaps replacing one with the same number): nothing earlier is live any more."""
        self._parts.clear()

    def started(self, ev: PartStarted) -> Any:
        if ev.kind != "text":
            self._parts[(ev.turn, ev.node, ev.part)] = _Part(ev.kind, None, None, [ev.content])
            return LivePart(ev.turn, ev.node, ev.part, ev.kind, ev.content, ev.tool_name)
        k, n, p = ev.turn, ev.node, ev.part
        md, open_block = MarkdownBlocks(), OpenBlock(ids.caret(k, n, p), ids.open_piece(k, n, p))
        blocks = md.feed(ev.content)  # a catch-up starts with all the text so far
        live = self._parts[(k, n, p)] = _Part("text", md, open_block, [ev.content], len(blocks))
        tail = open_block.render(md.lines, md.partial)
        assert isinstance(tail, Whole)  # nothing of it is on the page yet
        live.caret = tail.caret
        return LivePart(k, n, p, "text", tail.html, blocks=blocks)

    def delta(self, ev: PartDelta) -> list[Any]:
        k, n, p = addr = (ev.turn, ev.node, ev.part)
        live = self._parts.get(addr)
        if live is not None:
            live.texts.append(ev.text)
        if live is None or live.md is None or live.open is None:
            return [Delta(k, n, p, ev.text)]
        md, open_block = live.md, live.open
        before, before_len = open_block.open_text(md.lines, md.partial), md.tail_len
        blocks = md.feed(ev.text)
        # The tail may take the delta normalised (blank lines between blocks dropped, "\r\n" as "\n"): then render.
        if not blocks and live.caret and md.tail_len - before_len == len(ev.text) and appendable(before, ev.text):
            return [Append(ids.caret(k, n, p), ev.text)]
        out = []
        if blocks:
            out = self._place(addr, live, blocks)
            open_block.reset()
        tail = open_block.render(md.lines, md.partial)
        live.caret = tail.caret
        if isinstance(tail, Whole):
            return [*out, TailHtml(k, n, p, tail.html)]
        if tail.settled:
            out.append(OpenPiece(ids.open_piece(k, n, p), tail.wrap, tail.settled, "beforebegin"))
        return [*out, OpenPiece(ids.open_piece(k, n, p), tail.tag, tail.open_html, "innerHTML")]

    def finished(self, ev: ResponseFinished) -> list[Any]:
        """Finish each live part in place; if what streamed does not match the response, replace the node."""
        k, n = ev.turn, ev.node
        live = {a[2]: self._parts.pop(a) for a in [a for a in self._parts if a[:2] == (k, n)]}
        parts = {p: part for p, part in enumerate(ev.response.parts) if _kind(part) is not None}
        if live.keys() != parts.keys() or any(_kind(parts[p]) != live[p].kind for p in live):
            return self._whole(ev)
        out: list[Any] = []
        for p, part in parts.items():
            if isinstance(part, TextPart):
                md, open_block = live[p].md, live[p].open
                if open_block is not None:
                    open_block.reset()
                if md is None or "".join(live[p].texts) != part.content:
                    return self._whole(ev)
                if not part.content.strip():
                    out.append(Remove(ids.block(k, n, p)))  # a stored response shows no empty text
                    continue
                out += self._place((k, n, p), live[p], md.finish())
                out.append(Remove(ids.part(k, n, p)))
            elif isinstance(part, ThinkingPart):
                block_id = ids.block(k, n, p)
                out.append(ThinkingBlock(part.content, block_id, oob=True) if part.content.strip() else Remove(block_id))
            elif isinstance(part, ToolCallPart):
                number = call_numbers(ev.response.tool_calls).get(part.tool_call_id)
                out.append(ToolCallBlock(part, ids.block(k, n, p), oob=True, number=number))
        if any(isinstance(part, TextPart) and part.content.strip() for part in parts.values()):
            out.append(Div(CopyAnswer(), id=ids.node(k, n), hx_swap_oob="beforeend"))  # last, as ResponseBlock has it
        return out

    @staticmethod
    def _place(addr: Addr, live: _Part, blocks: list[str]) -> list[Any]:
        """Fill the last chunk up to CHUNK_BLOCKS, then start new chunks before the tail."""
        k, n, p = addr
        out: list[Any] = []
        room = -live.blocks % CHUNK_BLOCKS
        if room and blocks:
            out.append(ToChunk(k, n, p, (live.blocks - 1) // CHUNK_BLOCKS, blocks[:room]))
        if rest := blocks[room:]:
            out.append(NewChunks(k, n, p, MarkdownChunks(k, n, p, rest, first=(live.blocks + room) // CHUNK_BLOCKS)))
        live.blocks += len(blocks)
        return out

    @staticmethod
    def _whole(ev: ResponseFinished) -> list[Any]:
        return [ResponseBlock(ev.turn, ev.node, ev.response, oob=True)]

