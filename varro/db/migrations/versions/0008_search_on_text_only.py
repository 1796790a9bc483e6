"""The search index follows a turn's text only: a write that changes neither its message nor its content leaves it.

Every update of a turn rewrote its search entry (the whole answer's text, read out of its JSON, and its prefix
indexes): a new turn's start links its parent (`active_child_id`), so each message re-indexed the answer before it,
and an edit or a switch of versions re-indexed every turn it took off the path or put back. Now only an update of
`user_text` or `content` does (a turn's end, a stored answer); the owner of a turn never changes.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

search = importlib.import_module("varro.db.migrations.versions.0003_search_owner_prefix")

SQLITE = [
    "DROP TRIGGER IF EXISTS turn_fts_au",
    "CREATE TRIGGER turn_fts_au AFTER UPDATE OF user_text, content ON turn BEGIN "
    f"DELETE FROM turn_fts WHERE rowid = old.id; {search._INSERT}; END",
]
SQLITE_UNDO = [
    "DROP TRIGGER IF EXISTS turn_fts_au",
    f"CREATE TRIGGER turn_fts_au AFTER UPDATE ON turn BEGIN DELETE FROM turn_fts WHERE rowid = old.id; {search._INSERT}; "
    "END",
]
PG = [
    "DROP TRIGGER IF EXISTS turn_fts_sync ON turn",
    "CREATE TRIGGER turn_fts_sync AFTER INSERT OR UPDATE OF user_text, content ON turn FOR EACH ROW "
    "EXECUTE FUNCTION turn_fts_sync()",
]
PG_UNDO = [
    "DROP TRIGGER IF EXISTS turn_fts_sync ON turn",
    "CREATE TRIGGER turn_fts_sync AFTER INSERT OR UPDATE ON turn FOR EACH ROW EXECUTE FUNCTION turn_fts_sync()",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for ddl in SQLITE if dialect == "sqlite" else PG if dialect == "postgresql" else []:
        op.execute(ddl)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for ddl in SQLITE_UNDO if dialect == "sqlite" else PG_UNDO if dialect == "postgresql" else []:
        op.execute(ddl)
