"""Search that is scoped before it is scanned: the owner inside the index, and prefix indexes for typing.

SQLite: `turn_fts` is made anew with an `owner` column (the token `u<user id>`), so a search matches
`owner:u7 AND body:(...)` inside FTS5 and never walks another user's rows; and with `prefix='2 3'`, so the
word being typed ("da"*, "dan"*) is read from a prefix index instead of merging the lists of every longer word.
PostgreSQL: `turn_fts` gains `user_id` with a btree index, so the planner reads one user's rows by owner and tests
the tsquery on those; its GIN index over `doc` already answers prefixes (`'dan':*`, a partial match in the GIN
tree), and serves a user with very many rows (a bitmap AND of the two).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

baseline = importlib.import_module("varro.db.migrations.versions.0001_baseline")

_OWNER = "'u' || (SELECT c.user_id FROM chat AS c WHERE c.id = new.chat_id)"
_INSERT = f"INSERT INTO turn_fts(rowid, body, owner) VALUES (new.id, {baseline._TURN_TEXT}, {_OWNER})"
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS turn_fts_ai",
    "DROP TRIGGER IF EXISTS turn_fts_ad",
    "DROP TRIGGER IF EXISTS turn_fts_au",
    "DROP TABLE IF EXISTS turn_fts",
]
SQLITE_SEARCH = [
    *SQLITE_DROP,
    "CREATE VIRTUAL TABLE turn_fts USING fts5(body, owner, tokenize = 'unicode61 remove_diacritics 2', "
    "prefix = '2 3')",
    f"CREATE TRIGGER turn_fts_ai AFTER INSERT ON turn BEGIN {_INSERT}; END",
    "CREATE TRIGGER turn_fts_ad AFTER DELETE ON turn BEGIN DELETE FROM turn_fts WHERE rowid = old.id; END",
    f"CREATE TRIGGER turn_fts_au AFTER UPDATE ON turn BEGIN DELETE FROM turn_fts WHERE rowid = old.id; {_INSERT}; END",
    f"INSERT INTO turn_fts(rowid, body, owner) SELECT new.id, {baseline._TURN_TEXT}, {_OWNER} FROM turn AS new",
]

PG_SEARCH = [
    "ALTER TABLE turn_fts ADD COLUMN IF NOT EXISTS user_id integer",
    "UPDATE turn_fts AS f SET user_id = c.user_id FROM turn AS t JOIN chat AS c ON c.id = t.chat_id "
    "WHERE t.id = f.turn_id",
    "ALTER TABLE turn_fts ALTER COLUMN user_id SET NOT NULL",
    """CREATE OR REPLACE FUNCTION turn_fts_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE b text := turn_fts_body(NEW.user_text, NEW.content);
    BEGIN
      INSERT INTO turn_fts (turn_id, user_id, body, doc)
      VALUES (NEW.id, (SELECT c.user_id FROM chat AS c WHERE c.id = NEW.chat_id), b, to_tsvector('simple', b))
      ON CONFLICT (turn_id) DO UPDATE SET body = EXCLUDED.body, doc = EXCLUDED.doc;
      RETURN NULL;
    END $$""",
    "CREATE INDEX IF NOT EXISTS turn_fts_user ON turn_fts (user_id)",
]
PG_UNDO = [
    "DROP INDEX IF EXISTS turn_fts_user",
    baseline.PG_SEARCH[3],  # the trigger function as it was
    "ALTER TABLE turn_fts DROP COLUMN IF EXISTS user_id",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for ddl in SQLITE_SEARCH if dialect == "sqlite" else PG_SEARCH if dialect == "postgresql" else []:
        op.execute(ddl)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for ddl in [*SQLITE_DROP, *baseline.SQLITE_SEARCH] if dialect == "sqlite" else PG_UNDO if dialect == "postgresql" \
            else []:
        op.execute(ddl)
