"""Where a chat's kernel and folder live: the kernel host (its URL) the chat was placed on, "" while it has none.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("chat", sa.Column("kernel_host", sa.String(), server_default=sa.text("''"), nullable=False))


def downgrade() -> None:
    op.drop_column("chat", "kernel_host")
