"""Search results in the chat menu: each chat found, the words found marked in its title and snippet."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from fasthtml.common import A, Li, Mark, Span

from ui import ids
from ui.header import MenuList
from varro.db.search import Hit

_WORD = re.compile(r"\w+")


def fold(word: str) -> str:
    """A word as the index compares it: lower case, accents dropped (FTS5's unicode61 with remove_diacritics)."""
    return "".join(c for c in unicodedata.normalize("NFKD", word.casefold()) if not unicodedata.combining(c))


def Highlighted(text: str, words: Sequence[str], **kw: Any) -> Any:
    """`text` with every word the search matched in a <mark> (a prefix, as typed; a single letter as itself).
    Text and marks are FT children, so whatever the text holds is escaped like any other."""
    terms = [fold(w) for w in words]
    parts: list[Any] = []
    last = 0
    for m in _WORD.finditer(text):
        word = fold(m.group())
        if any(word.startswith(t) if len(t) > 1 else word == t for t in terms):
            parts += [text[last:m.start()], Mark(m.group(), cls="bg-warning text-warning-content rounded-sm")]
            last = m.end()
    return Span(*[p for p in [*parts, text[last:]] if p != ""], **kw)


def SearchResults(hits: Sequence[Hit], open_url: Any, words: Sequence[str] = (), note: str = "") -> Any:
    """Chats matching a search: a title match opens the chat, a message match opens it at that turn (`open_url(chat,
    turn)`: a page that shows that turn, which a long chat's latest turns may not). `note`: why nothing was searched
    (a query past the caps) or why the search stopped."""
    items = [
        Li(A(Highlighted(h.title or "New chat", words, cls="font-semibold truncate"),
             Highlighted(h.snippet, words, cls="text-xs opacity-80 line-clamp-2") if h.snippet else None,
             href=open_url(h.chat_id) if h.turn is None else open_url(h.chat_id, h.turn, h.turn_id) + f"#{ids.turn(h.turn)}",
             cls="flex flex-col items-start gap-0", role="menuitem", tabindex="-1",
             data_testid=f"search-result-{h.chat_id}"), role="none")
        for h in hits
    ]
    if note:
        items.insert(0, Li(Span(note, cls="text-sm"), role="none", data_testid="search-note"))
    return MenuList(*(items or [Li(Span("No chats match", cls="opacity-80"), role="none")]))
