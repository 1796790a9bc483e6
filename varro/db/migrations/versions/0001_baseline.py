"""The schema as `create_all` made it before migrations: users, chats, turns, and the search index.

On a database `create_all` made, only what it lacks is added (a chat's `auto_title` came after the first
release; the search index after that), so every existing database joins the revisions here.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# SQLite: the text of one turn (the user's message and every text part of the answer) in an FTS5 index, kept by
# triggers on `turn` so it can't drift from the turns whatever writes them.
_TURN_TEXT = """new.user_text || ' ' || coalesce((SELECT group_concat(json_extract(p.value, '$.content'), ' ')
  FROM json_each(new.content, '$.assistant.messages') AS m, json_each(m.value, '$.parts') AS p
  WHERE json_extract(p.value, '$.part_kind') = 'text'), '')"""
SQLITE_SEARCH = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS turn_fts USING fts5(body, tokenize = 'unicode61 remove_diacritics 2')",
    f"CREATE TRIGGER IF NOT EXISTS turn_fts_ai AFTER INSERT ON turn BEGIN "
    f"INSERT INTO turn_fts(rowid, body) VALUES (new.id, {_TURN_TEXT}); END",
    "CREATE TRIGGER IF NOT EXISTS turn_fts_ad AFTER DELETE ON turn BEGIN DELETE FROM turn_fts WHERE rowid = old.id; END",
    f"CREATE TRIGGER IF NOT EXISTS turn_fts_au AFTER UPDATE ON turn BEGIN "
    f"DELETE FROM turn_fts WHERE rowid = old.id; INSERT INTO turn_fts(rowid, body) VALUES (new.id, {_TURN_TEXT}); END",
    # Turns written before the index existed: indexed once.
    f"INSERT INTO turn_fts(rowid, body) SELECT new.id, {_TURN_TEXT} FROM turn AS new "
    "WHERE new.id NOT IN (SELECT rowid FROM turn_fts)",
]

# PostgreSQL: the same text in a table of its own with a tsvector ('simple': no stemming, as FTS5's unicode61),
# kept by a trigger; a deleted turn's row goes by cascade.
_PG_ARRAY = "CASE WHEN json_typeof({0}) = 'array' THEN {0} ELSE '[]'::json END"
PG_SEARCH = [
    "CREATE TABLE IF NOT EXISTS turn_fts (turn_id integer PRIMARY KEY REFERENCES turn(id) ON DELETE CASCADE, "
    "body text NOT NULL, doc tsvector NOT NULL)",
    "CREATE INDEX IF NOT EXISTS turn_fts_doc ON turn_fts USING gin (doc)",
    f"""CREATE OR REPLACE FUNCTION turn_fts_body(user_text text, content json) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$ SELECT user_text || ' ' || coalesce((SELECT string_agg(p->>'content', ' ')
      FROM json_array_elements({_PG_ARRAY.format("content->'assistant'->'messages'")}) AS m,
           json_array_elements({_PG_ARRAY.format("m->'parts'")}) AS p
      WHERE p->>'part_kind' = 'text'), '') $$""",
    """CREATE OR REPLACE FUNCTION turn_fts_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE b text := turn_fts_body(NEW.user_text, NEW.content);
    BEGIN
      INSERT INTO turn_fts (turn_id, body, doc) VALUES (NEW.id, b, to_tsvector('simple', b))
      ON CONFLICT (turn_id) DO UPDATE SET body = EXCLUDED.body, doc = EXCLUDED.doc;
      RETURN NULL;
    END $$""",
    "DROP TRIGGER IF EXISTS turn_fts_sync ON turn",
    "CREATE TRIGGER turn_fts_sync AFTER INSERT OR UPDATE ON turn FOR EACH ROW EXECUTE FUNCTION turn_fts_sync()",
    "INSERT INTO turn_fts (turn_id, body, doc) SELECT id, turn_fts_body(user_text, content), "
    "to_tsvector('simple', turn_fts_body(user_text, content)) FROM turn ON CONFLICT (turn_id) DO NOTHING",
]


def upgrade() -> None:
    have = set(sa.inspect(op.get_bind()).get_table_names())
    if "user" not in have:
        op.create_table(
            "user",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("name", sa.String(), nullable=False),
        )
        op.create_index("ix_user_name", "user", ["name"], unique=True)
    if "chat" not in have:
        op.create_table(
            "chat",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("user_id", sa.Integer(), sa.ForeignKey("user.id", ondelete="CASCADE"), nullable=False),
            sa.Column("title", sa.String(), nullable=False),
            sa.Column("auto_title", sa.String(), server_default=sa.text("''"), nullable=False),
            sa.Column("shell_resets", sa.JSON(), server_default=sa.text("'[]'"), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sqlite_autoincrement=True,
        )
        op.create_index("ix_chat_user_id", "chat", ["user_id"])
        op.create_index("ix_chat_updated_at", "chat", ["updated_at"])
    elif "auto_title" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("chat")}:
        op.add_column("chat", sa.Column("auto_title", sa.String(), server_default=sa.text("''"), nullable=False))
    if "turn" not in have:
        op.create_table(
            "turn",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("chat_id", sa.Integer(), sa.ForeignKey("chat.id", ondelete="CASCADE"), nullable=False),
            sa.Column("idx", sa.Integer(), nullable=False),
            sa.Column("user_text", sa.String(), nullable=False),
            sa.Column("content", sa.JSON(), nullable=False),
            sa.Column("status", sa.String(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.UniqueConstraint("chat_id", "idx"),
            sqlite_autoincrement=True,
        )
        op.create_index("ix_turn_chat_id", "turn", ["chat_id"])
    dialect = op.get_bind().dialect.name
    for ddl in SQLITE_SEARCH if dialect == "sqlite" else PG_SEARCH if dialect == "postgresql" else []:
        op.execute(ddl)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE IF EXISTS turn_fts")
        op.execute("DROP FUNCTION IF EXISTS turn_fts_sync() CASCADE")
        op.execute("DROP FUNCTION IF EXISTS turn_fts_body(text, json)")
    else:
        op.execute("DROP TABLE IF EXISTS turn_fts")
    for table in ("turn", "chat", "user"):
        op.drop_table(table)
