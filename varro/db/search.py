"""Search over a user's chats: titles, and the text of every message (the user's and the answers').

The message text is kept in an index by triggers on `turn` (made by the first migration), so it can't drift
from the turns whatever writes them: FTS5 in SQLite, a tsvector table in PostgreSQL. Elsewhere the search
falls back to LIKE over the user's messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import text

if TYPE_CHECKING:  # engine.py creates the index from here: no import cycle at run time
    from varro.db.engine import Sessions

@dataclass(frozen=True)
class Hit:
    """A chat that matches: its title, and the first matching turn with a snippet of it (None: the title matched)."""

    chat_id: int
    title: str
    turn: int | None
    snippet: str


def fts_query(q: str) -> str:
    """Words as FTS5 prefix terms, quoted: no operator in the user's text can reach the query syntax."""
    return " ".join(f'"{w}"*' for w in re.findall(r"\w+", q))


def tsquery(q: str) -> str:
    """The same for PostgreSQL's to_tsquery: quoted prefix lexemes, all required (a word has no quote in it)."""
    return " & ".join(f"'{w}':*" for w in re.findall(r"\w+", q))


SQLITE_HITS = """
SELECT t.chat_id, c.title, t.idx, snippet(turn_fts, 0, '', '', '…', 12)
FROM turn_fts JOIN turn AS t ON t.id = turn_fts.rowid JOIN chat AS c ON c.id = t.chat_id
WHERE turn_fts MATCH :q AND c.user_id = :uid
ORDER BY c.updated_at DESC, c.id DESC, t.idx LIMIT :limit
"""
PG_HITS = """
SELECT t.chat_id, c.title, t.idx, ts_headline('simple', f.body, q, 'StartSel="", StopSel="", MaxWords=12, MinWords=5')
FROM to_tsquery('simple', :q) AS q, turn_fts AS f JOIN turn AS t ON t.id = f.turn_id JOIN chat AS c ON c.id = t.chat_id
WHERE f.doc @@ q AND c.user_id = :uid
ORDER BY c.updated_at DESC, c.id DESC, t.idx LIMIT :limit
"""
LIKE_HITS = """
SELECT t.chat_id, c.title, t.idx, t.user_text
FROM turn AS t JOIN chat AS c ON c.id = t.chat_id
WHERE lower(t.user_text) LIKE :like ESCAPE '\\' AND c.user_id = :uid
ORDER BY c.updated_at DESC, c.id DESC, t.idx LIMIT :limit
"""
TITLE_HITS = """
SELECT c.id, c.title FROM chat AS c WHERE c.user_id = :uid AND lower(c.title) LIKE :like ESCAPE '\\'
ORDER BY c.updated_at DESC LIMIT :limit
"""


async def search_chats(sessions: Sessions, user_id: int, q: str, limit: int = 30) -> list[Hit]:
    """Chats whose title or messages match `q`, newest first; a title match opens the chat, a message match its turn."""
    q = q.strip()
    if not q:
        return []
    like = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    async with sessions() as s:
        conn = await s.connection()
        titles = (await conn.execute(text(TITLE_HITS), {"uid": user_id, "like": like, "limit": limit})).all()
        if conn.dialect.name in ("sqlite", "postgresql"):
            sqlite = conn.dialect.name == "sqlite"
            match = fts_query(q) if sqlite else tsquery(q)
            params = {"q": match, "uid": user_id, "limit": limit * 10}
            turns = (await conn.execute(text(SQLITE_HITS if sqlite else PG_HITS), params)).all() if match else []
        else:
            turns = (await conn.execute(text(LIKE_HITS), {"uid": user_id, "like": like, "limit": limit * 10})).all()
    hits: list[Hit] = []
    seen: set[int] = set()
    for chat_id, title, idx, snip in turns:  # the first matching turn of each chat
        if chat_id not in seen and len(hits) < limit:
            seen.add(chat_id)
            hits.append(Hit(chat_id, title, idx, snip[:160]))
    return [Hit(r[0], r[1], None, "") for r in titles if r[0] not in seen] + hits
