"""Search over a user's chats: titles, and the text of every message (the user's and the answers').

In SQLite (the embedded default) the message text is kept in an FTS5 index by triggers on `turn`, so
it can't drift from the turns whatever writes them; elsewhere the search falls back to LIKE.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

if TYPE_CHECKING:  # engine.py creates the index from here: no import cycle at run time
    from varro.db.engine import Sessions

# The text of one turn: the user's message and every text part of the answer, from the content JSON.
_TURN_TEXT = """new.user_text || ' ' || coalesce((SELECT group_concat(json_extract(p.value, '$.content'), ' ')
  FROM json_each(new.content, '$.assistant.messages') AS m, json_each(m.value, '$.parts') AS p
  WHERE json_extract(p.value, '$.part_kind') = 'text'), '')"""

FTS_DDL = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS turn_fts USING fts5(body, tokenize = 'unicode61 remove_diacritics 2')",
    f"CREATE TRIGGER IF NOT EXISTS turn_fts_ai AFTER INSERT ON turn BEGIN "
    f"INSERT INTO turn_fts(rowid, body) VALUES (new.id, {_TURN_TEXT}); END",
    "CREATE TRIGGER IF NOT EXISTS turn_fts_ad AFTER DELETE ON turn BEGIN DELETE FROM turn_fts WHERE rowid = old.id; END",
    f"CREATE TRIGGER IF NOT EXISTS turn_fts_au AFTER UPDATE ON turn BEGIN "
    f"DELETE FROM turn_fts WHERE rowid = old.id; INSERT INTO turn_fts(rowid, body) VALUES (new.id, {_TURN_TEXT}); END",
]
# Turns written before the index existed (an older database): indexed once.
FTS_BACKFILL = f"INSERT INTO turn_fts(rowid, body) SELECT new.id, {_TURN_TEXT} FROM turn AS new " \
               "WHERE new.id NOT IN (SELECT rowid FROM turn_fts)"


async def create_search_index(conn: AsyncConnection) -> None:
    if conn.dialect.name != "sqlite":
        return
    for ddl in FTS_DDL:
        await conn.execute(text(ddl))
    await conn.execute(text(FTS_BACKFILL))


@dataclass(frozen=True)
class Hit:
    """A chat that matches: its title, and the first matching turn with a snippet of it (None: the title matched)."""

    chat_id: int
    title: str
    turn: int | None
    snippet: str


def fts_query(q: str) -> str:
    """Words as FTS5 prefix terms, quoted: no operator in the user's text can reach the query syntax."""
    words = re.findall(r"\w+", q)
    return " ".join(f'"{w}"*' for w in words)


SQLITE_HITS = """
SELECT t.chat_id, c.title, t.idx, snippet(turn_fts, 0, '', '', '…', 12)
FROM turn_fts JOIN turn AS t ON t.id = turn_fts.rowid JOIN chat AS c ON c.id = t.chat_id
WHERE turn_fts MATCH :q AND c.user_id = :uid
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
        if conn.dialect.name == "sqlite":
            match = fts_query(q)
            params = {"q": match, "uid": user_id, "limit": limit * 10}
            turns = (await conn.execute(text(SQLITE_HITS), params)).all() if match else []
        else:
            turns = (await conn.execute(text(LIKE_HITS), {"uid": user_id, "like": like, "limit": limit * 10})).all()
    hits: list[Hit] = []
    seen: set[int] = set()
    for chat_id, title, idx, snip in turns:  # the first matching turn of each chat
        if chat_id not in seen and len(hits) < limit:
            seen.add(chat_id)
            hits.append(Hit(chat_id, title, idx, snip[:160]))
    return [Hit(r[0], r[1], None, "") for r in titles if r[0] not in seen] + hits
