"""A chat's fence: the newest epoch of a live session that wrote to it, so a process that lost the user can't write.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite has it for a column with a constant default): no table rebuilt.
    op.add_column("chat", sa.Column("fence", sa.BigInteger(), server_default=sa.text("0"), nullable=False))


def downgrade() -> None:
    op.drop_column("chat", "fence")
