"""Search over a user's chats: titles, and the text of every message (the user's and the answers').

The message text is kept in an index by triggers on `turn` (made by the revisions), so it can't drift from
the turns whatever writes them: FTS5 in SQLite, a tsvector table in PostgreSQL. Elsewhere the search falls
back to LIKE over the user's messages.

A search can't burn a core: at most MAX_TERMS words and MAX_CHARS characters (more is refused before
anything is read), the owner is part of the index lookup itself (SQLite: `owner:u7 AND body:(...)` inside
FTS5; PostgreSQL: the owner's own index, the words tested on those rows), so another user's rows are never walked, and the
statement stops at its time limit or as soon as its caller is cancelled (SQLite: a progress handler and
`interrupt()`; PostgreSQL: `statement_timeout`, and asyncpg cancels the statement with the task).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

if TYPE_CHECKING:  # engine.py creates the index from here: no import cycle at run time
    from varro.db.engine import Sessions

@dataclass(frozen=True)
class Hit:
    """A chat that matches: its title, and the first matching turn with a snippet of it (None: the title matched).
    The turn may be on a branch the chat does not show: `turn_id` names it, and opening it shows that branch."""

    chat_id: int
    title: str
    turn: int | None
    snippet: str
    turn_id: int | None = None


MAX_TERMS = 8
MAX_CHARS = 200
PROGRESS_OPS = 1000  # SQLite asks the brake every this many virtual-machine steps: well under a millisecond


class SearchRefused(ValueError):
    """A search that is not run, or was stopped: its text says why, for the user."""


def words_of(q: str) -> list[str]:
    """The words of a query within the caps; a longer query is refused before anything is read."""
    words = re.findall(r"\w+", q)
    if len(q) > MAX_CHARS or len(words) > MAX_TERMS:
        raise SearchRefused(f"Search looks for at most {MAX_TERMS} words ({MAX_CHARS} characters): "
                            f"this has {len(words):,} words in {len(q):,} characters. Use a few distinctive words.")
    return words


def _prefix(w: str, mark: str) -> str:
    """Words are matched as prefixes, as one types; a single letter only as itself (its prefix is half the index)."""
    return mark if len(w) > 1 else ""


def fts_query(words: list[str], user_id: int) -> str:
    """The owner, then the words as quoted FTS5 prefix terms: no operator in the user's text reaches the syntax."""
    body = " ".join(f'"{w}"{_prefix(w, "*")}' for w in words)
    return f'owner : "u{user_id}" AND body : ({body})'


def tsquery(words: list[str]) -> str:
    """The same for PostgreSQL's to_tsquery: quoted prefix lexemes, all required (a word has no quote in it)."""
    return " & ".join(f"'{w}'{_prefix(w, ':*')}" for w in words)


SQLITE_HITS = """
SELECT t.chat_id, c.title, t.idx, snippet(turn_fts, 0, '', '', '…', 12), t.id
FROM turn_fts JOIN turn AS t ON t.id = turn_fts.rowid JOIN chat AS c ON c.id = t.chat_id
WHERE turn_fts MATCH :q AND c.user_id = :uid
ORDER BY c.updated_at DESC, c.id DESC, t.idx, NOT t.on_path LIMIT :limit
"""
PG_HITS = """
SELECT t.chat_id, c.title, t.idx, ts_headline('simple', f.body, q, 'StartSel="", StopSel="", MaxWords=12, MinWords=5'),
  t.id
FROM to_tsquery('simple', :q) AS q, turn_fts AS f JOIN turn AS t ON t.id = f.turn_id JOIN chat AS c ON c.id = t.chat_id
WHERE f.user_id = :uid AND f.doc @@ q AND c.user_id = :uid
ORDER BY c.updated_at DESC, c.id DESC, t.idx LIMIT :limit
"""
LIKE_HITS = """
SELECT t.chat_id, c.title, t.idx, t.user_text, t.id
FROM turn AS t JOIN chat AS c ON c.id = t.chat_id
WHERE lower(t.user_text) LIKE :like ESCAPE '\\' AND c.user_id = :uid
ORDER BY c.updated_at DESC, c.id DESC, t.idx LIMIT :limit
"""
TITLE_HITS = """
SELECT c.id, c.title FROM chat AS c WHERE c.user_id = :uid AND lower(c.title) LIKE :like ESCAPE '\\'
ORDER BY c.updated_at DESC LIMIT :limit
"""


class Brake:
    """SQLite's progress handler for one statement: non-zero (stop) once pulled or past the deadline."""

    def __init__(self, time_limit: float) -> None:
        self.deadline = time.monotonic() + time_limit
        self.pulled = threading.Event()

    def __call__(self) -> int:
        return int(self.pulled.is_set() or time.monotonic() > self.deadline)


async def bounded_rows(conn: AsyncConnection, sql: str, params: dict[str, object], time_limit: float) -> list[Any]:
    """`sql`'s rows, or SearchRefused once it has run `time_limit` seconds; cancelling the caller stops the statement
    in the database too (a query left running after its client went is a core burnt for no one)."""
    raw = (await conn.get_raw_connection()).driver_connection if conn.dialect.name == "sqlite" else None
    brake = Brake(time_limit)
    if raw is not None:  # aiosqlite: the statement runs in the connection's own thread
        await raw.set_progress_handler(brake, PROGRESS_OPS)
    else:
        await conn.execute(text(f"SET LOCAL statement_timeout = {max(1, round(time_limit * 1000))}"))
    try:
        async with asyncio.timeout(time_limit):
            return list((await conn.execute(text(sql), params)).all())
    except BaseException as e:
        if raw is not None:  # timed out, cancelled or failed: stop the statement, whether queued or running
            brake.pulled.set()  # the handler stops it at its next step, even one that has not started yet ...
            if (db := raw._connection) is not None:  # (None: SQLAlchemy already closed a cancelled connection)
                db.interrupt()  # ... and interrupt() at once (safe from any thread)
        if isinstance(e, TimeoutError) or (isinstance(e, DBAPIError) and time.monotonic() >= brake.deadline):
            raise SearchRefused(f"The search took longer than {time_limit:g} s and was stopped: try fewer or longer "
                                "words.") from None
        raise
    finally:
        if raw is not None:
            with contextlib.suppress(ValueError):  # SQLAlchemy closes a cancelled statement's connection: no reset
                await asyncio.shield(raw.set_progress_handler(None, 0))


async def search_chats(sessions: Sessions, user_id: int, q: str, limit: int = 30, time_limit: float = 3.0) -> list[Hit]:
    """Chats whose title or messages match `q`, newest first; a title match opens the chat, a message match its turn.
    Raises SearchRefused for a query past the caps or one that ran past `time_limit` seconds."""
    q = q.strip()
    if not q:
        return []
    words = words_of(q)
    like = "%" + q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    async with sessions() as s:
        conn = await s.connection()
        titles = await bounded_rows(conn, TITLE_HITS, {"uid": user_id, "like": like, "limit": limit}, time_limit)
        if not words:
            turns = []
        elif conn.dialect.name in ("sqlite", "postgresql"):
            sqlite = conn.dialect.name == "sqlite"
            params = {"q": fts_query(words, user_id) if sqlite else tsquery(words), "uid": user_id, "limit": limit * 10}
            turns = await bounded_rows(conn, SQLITE_HITS if sqlite else PG_HITS, params, time_limit)
        else:
            turns = await bounded_rows(conn, LIKE_HITS, {"uid": user_id, "like": like, "limit": limit * 10}, time_limit)
    hits: list[Hit] = []
    seen: set[int] = set()
    for chat_id, title, idx, snip, turn_id in turns:  # the first matching turn of each chat
        if chat_id not in seen and len(hits) < limit:
            seen.add(chat_id)
            hits.append(Hit(chat_id, title, idx, snip[:160], turn_id))
    return [Hit(r[0], r[1], None, "") for r in titles if r[0] not in seen] + hits
