"""The statements of a turn's start and end, built once, run as Core on the session's connection.

Many answers start and end at once, and each start and end was a few ORM statements built anew: building them,
their cache keys, and SQLAlchemy's ORM bulk-update machinery cost more CPU than SQLite's own work on them (a
turn's start and end together, about 4.7 ms of CPU; docs/benchmarks.md). These are plain Core statements on the
tables, with bound parameters, built at import: a run looks each up in the compiled cache by the same object.
They select the shown path as SQLAlchemy writes a true boolean (`turn.on_path = 1` on SQLite), which is what the
shown path's partial index is made with (revision 0009).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, bindparam, insert, select, update
from sqlmodel import Session

from varro.db.models import Chat, Turn

TURN: Table = Turn.__table__  # type: ignore[attr-defined]
CHAT: Table = Chat.__table__  # type: ignore[attr-defined]


def _shown(at: Any) -> tuple[Any, ...]:
    return TURN.c.chat_id == bindparam("chat"), TURN.c.idx == at, TURN.c.on_path


# Parameters are not named as columns: SQLAlchemy keeps those names for the VALUES and SET clauses it builds itself.
# The chat's fence rises to the session's epoch, or the write is refused (no row).
FENCE = update(CHAT).where(CHAT.c.id == bindparam("chat"), CHAT.c.fence <= bindparam("epoch")).values(
    fence=bindparam("epoch"))
# The shown turns from a position on leave the shown path (an edit's or a regeneration's start).
HIDE_FROM = update(TURN).where(TURN.c.chat_id == bindparam("chat"), TURN.c.idx >= bindparam("at"),
                               TURN.c.on_path).values(on_path=False)
# A new shown turn after the shown turn before it (none at position 0: no row, no parent).
START = insert(TURN).values(
    chat_id=bindparam("chat"), idx=bindparam("at"), user_text=bindparam("words"), content=bindparam("body"),
    status=bindparam("state"), created_at=bindparam("now"),
    parent_id=select(TURN.c.id).where(*_shown(bindparam("before"))).scalar_subquery(), on_path=True,
).returning(TURN.c.id, TURN.c.parent_id)
LINK = update(TURN).where(*_shown(bindparam("before"))).values(active_child_id=bindparam("child"))
FINISH = update(TURN).where(*_shown(bindparam("at"))).values(content=bindparam("body"), status=bindparam("state"))
TOUCH = update(CHAT).where(CHAT.c.id == bindparam("chat")).values(updated_at=bindparam("now"))


def run(s: Session, statement: Any, **params: Any) -> Any:
    """`statement` with `params` on the session's connection, in its transaction: the result (rows, rowcount)."""
    return s.connection().execute(statement, params)
