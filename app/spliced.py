"""A page carrying large pre-rendered HTML (cached turns), sent without joining or copying it on the event loop.

FastHTML turns a page into one string with `to_xml`, which builds each element by appending its children's
strings to its own: a 3 MB turn (a 1 MB answer's HTML) is copied again at every level above it, and widened
to 2 bytes a character if the page has any non-ASCII text, then encoded whole. That took 20 to 60 ms of the
event loop for every view of a long chat, for every user, while its one user reloaded it in a loop.

`Spliced(page)` is an `FtResponse` that swaps each large `NotStr` in the tree for a marker, lets FastHTML
render the now small page exactly as it would have (title, head, body), and streams that page with the large
parts spliced back in at their markers, a slice at a time, giving other tasks the loop between slices.
The bytes the browser receives are the same; they come chunked rather than with a Content-Length.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

from fasthtml.common import FT, FtResponse, NotStr
from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

BIG = 16 * 1024  # characters: a pre-rendered part at least this long is spliced in rather than rendered in
SLICE = 64 * 1024  # characters sent at a time (about a millisecond of encoding on a busy machine)


def pull_big(tree: Any, marker: str, parts: list[str]) -> Any:
    """`tree` with each large `NotStr` in it replaced by `marker` (in place: the tree is this response's own);
    the parts removed are appended to `parts`, in document order."""
    if isinstance(tree, NotStr) and len(tree) >= BIG:
        parts.append(str(tree))
        return NotStr(marker)
    if isinstance(tree, FT):
        tree.children = tuple(pull_big(c, marker, parts) for c in tree.children)
    elif isinstance(tree, (tuple, list)):
        return type(tree)(pull_big(c, marker, parts) for c in tree)
    return tree


async def slices(pieces: list[str], parts: list[str]) -> AsyncIterator[str]:
    """The page's own pieces with the large parts between them, `SLICE` characters at a time."""
    for i, piece in enumerate(pieces):
        yield piece
        if i < len(parts):
            part = parts[i]
            for at in range(0, len(part), SLICE):
                yield part[at:at + SLICE]
                await asyncio.sleep(0)  # a turn of the loop for everyone else between slices


class Spliced(FtResponse):
    """`FtResponse(page)`, with the page's large pre-rendered parts streamed rather than joined (see above)."""

    def __init__(self, content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> None:
        marker = f"<!--splice-{secrets.token_hex(16)}-->"  # unguessable: no content can contain it
        parts: list[str] = []
        tree = pull_big(content, marker, parts)

        def stream(page: str, status_code: int, headers: dict[str, str], media_type: str | None,
                   background: BackgroundTask | None) -> StreamingResponse:
            pieces = page.split(marker)
            if len(pieces) != len(parts) + 1:  # a part went somewhere FastHTML does not render it once, as is
                raise RuntimeError("a spliced part was not rendered exactly once")
            return StreamingResponse(slices(pieces, parts), status_code, headers, "text/html", background)

        super().__init__(tree, status_code, headers, cls=stream)
