"""Turns form a tree: each knows its parent and whether it is on the chat's shown path, and edits add versions.

Every existing turn is on the shown path, its parent the turn before it, its remembered child the turn after it:
every chat reads exactly as before. The unique (chat, idx) becomes unique among shown turns only.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

LINK = """UPDATE turn SET
  parent_id = (SELECT p.id FROM turn AS p WHERE p.chat_id = turn.chat_id AND p.idx = turn.idx - 1),
  active_child_id = (SELECT c.id FROM turn AS c WHERE c.chat_id = turn.chat_id AND c.idx = turn.idx + 1)"""


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    unique = [u for u in sa.inspect(bind).get_unique_constraints("turn") if u["column_names"] == ["chat_id", "idx"]]
    # SQLite can't drop a constraint in place: the table is rebuilt (which drops its triggers: made again below).
    # Its unnamed unique constraint is named by the convention so that the rebuild can leave it out.
    naming = {"uq": "uq_%(table_name)s_%(column_0_name)s_%(column_1_name)s"}
    with op.batch_alter_table("turn", naming_convention=naming, recreate="always" if sqlite else "auto") as b:
        b.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        b.add_column(sa.Column("on_path", sa.Boolean(), server_default=sa.true(), nullable=False))
        b.add_column(sa.Column("active_child_id", sa.Integer(), nullable=True))
        if unique:
            b.drop_constraint(unique[0]["name"] or "uq_turn_chat_id_idx", type_="unique")
        b.create_foreign_key("fk_turn_parent_id", "turn", ["parent_id"], ["id"], ondelete="CASCADE")
    op.execute(LINK)
    op.create_index("ix_turn_parent_id", "turn", ["parent_id"])
    op.create_index("uq_turn_shown", "turn", ["chat_id", "idx"], unique=True, sqlite_where=sa.text("on_path"),
                    postgresql_where=sa.text("on_path"))
    if sqlite:  # the search index as revision 0003 made it (the owner in the index), triggers and all
        search = importlib.import_module("varro.db.migrations.versions.0003_search_owner_prefix")
        for ddl in search.SQLITE_SEARCH:
            op.execute(ddl)


def downgrade() -> None:
    op.execute("DELETE FROM turn WHERE NOT on_path")
    op.drop_index("uq_turn_shown", "turn")
    op.drop_index("ix_turn_parent_id", "turn")
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("turn", recreate="always" if sqlite else "auto") as b:
        b.drop_constraint("fk_turn_parent_id", type_="foreignkey")
        b.drop_column("active_child_id")
        b.drop_column("on_path")
        b.drop_column("parent_id")
        b.create_unique_constraint("turn_chat_id_idx_key", ["chat_id", "idx"])
