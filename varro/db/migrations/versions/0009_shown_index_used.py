"""SQLite uses the index of the shown path: its condition written as the queries write it.

`uq_turn_shown` (a chat's shown turns, one per position) was made `WHERE on_path`; SQLite uses a partial index only
for a query whose WHERE repeats that condition, and SQLAlchemy writes `turn.on_path = 1`. So every statement on the
shown path (a turn's start and end, an edit, the page's turns) found its rows through the chat's index instead and
read every turn of the chat, versions included, each row past its stored answer to reach `on_path`: in a long chat,
a turn's start read the whole chat. Made again `WHERE on_path = 1`. PostgreSQL's planner proves `on_path` from
`turn.on_path`, as its queries write it: unchanged there.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _index(condition: str) -> None:
    op.execute("DROP INDEX IF EXISTS uq_turn_shown")
    op.execute(f"CREATE UNIQUE INDEX uq_turn_shown ON turn (chat_id, idx) WHERE {condition}")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _index("on_path = 1")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _index("on_path")
