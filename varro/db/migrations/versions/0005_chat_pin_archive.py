"""Chats can be pinned (they head the sidebar) and archived (out of the lists, still found by search).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMNs with constant defaults: no table rebuilt on SQLite.
    op.add_column("chat", sa.Column("pinned", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("chat", sa.Column("archived", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    op.drop_column("chat", "archived")
    op.drop_column("chat", "pinned")
