"""Tables: users (owned by the host app), chats, and the turns of a chat."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    false,
    text,
    true,
)
from sqlmodel import Field, SQLModel

TURN_STATUSES = ("complete", "stopped", "error")  # a finished turn's
RUNNING = "running"  # a turn being answered: stored when it starts, finished in place (start-up stops any left)


def utcnow() -> datetime:
    return datetime.now(UTC)


def Stamp(index: bool = False) -> Any:  # noqa: N802  (a Field, named like one)
    """A timezone-aware time: PostgreSQL (asyncpg) refuses an aware value for a column without a time zone."""
    return Field(default_factory=utcnow, sa_type=DateTime(timezone=True), index=index)


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)


class Chat(SQLModel, table=True):
    # AUTOINCREMENT: a deleted chat's id is never handed to a new chat, so old links can't land on it.
    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(sa_column=Column(Integer, ForeignKey("user.id", ondelete="CASCADE"), index=True, nullable=False))
    title: str = ""
    # The title Varro gave the chat from its first message; while `title` still equals it, an edit of that
    # message names the chat again (a title the user chose is left alone).
    auto_title: str = Field(default="", sa_column=Column(String, nullable=False, server_default=text("''")))
    # Turn indexes before which the user reset the shell; a restore replays only cells after the last one.
    shell_resets: list[int] = Field(default_factory=list,
                                    sa_column=Column(JSON, nullable=False, server_default=text("'[]'")))
    created_at: datetime = Stamp()
    updated_at: datetime = Stamp(index=True)
    # The newest epoch of a live session that wrote to this chat; an older one's writes are refused (varro/scale).
    fence: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default=text("0")))
    # The kernel host (URL) the chat's kernel and folder were placed on; "" until its first need (varro/shell/hosts.py).
    kernel_host: str = Field(default="", sa_column=Column(String, nullable=False, server_default=text("''")))
    # Pinned chats head the sidebar; archived ones leave the lists (search still finds them) until restored.
    pinned: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    archived: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))


class Turn(SQLModel, table=True):
    """One user message and everything the assistant did for it; `content` follows docs/design.md section 4 (v1).

    A chat's turns form a tree (docs/design.md, "Versions"): an edit or a regeneration of turn `idx` adds a sibling
    (same parent, same `idx`) rather than replacing it. The turns with `on_path` are the one path the chat shows,
    exactly one per `idx` (the partial unique index); every read of "the chat's turns" reads that path.
    """

    __table_args__ = (
        # `on_path = 1` on SQLite: its planner uses a partial index only for a query that repeats the index's
        # condition as written, and SQLAlchemy writes a true boolean there as `= 1` (revision 0009).
        Index("uq_turn_shown", "chat_id", "idx", unique=True, sqlite_where=text("on_path = 1"),
              postgresql_where=text("on_path")),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_column=Column(Integer, ForeignKey("chat.id", ondelete="CASCADE"), index=True, nullable=False))
    idx: int  # the turn's position on its path (0 for a first message)
    # The turn before this one on its branch; None for a first turn.
    parent_id: int | None = Field(default=None, sa_column=Column(Integer, ForeignKey("turn.id", ondelete="CASCADE"),
                                                                 index=True, nullable=True))
    on_path: bool = Field(default=True, sa_column=Column(Boolean, nullable=False, server_default=true()))
    # The child last shown below this turn: switching back to this turn shows that branch again.
    active_child_id: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    user_text: str
    content: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    status: str = "complete"
    created_at: datetime = Stamp()


class Share(SQLModel, table=True):
    """A read-only link to a chat as it was when shared: the turns it shows are frozen by id (turns are never
    rewritten once finished, and versions keep the ones an edit replaced), so later turns are not added."""

    __table_args__ = {"sqlite_autoincrement": True}

    id: int | None = Field(default=None, primary_key=True)
    token: str = Field(sa_column=Column(String, nullable=False, unique=True))  # unguessable: 32 random bytes
    chat_id: int = Field(sa_column=Column(Integer, ForeignKey("chat.id", ondelete="CASCADE"), index=True, nullable=False))
    title: str = ""
    turn_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    include_files: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    revoked: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    created_at: datetime = Stamp()
