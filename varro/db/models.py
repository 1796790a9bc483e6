"""Tables: users (owned by the host app), chats, and the turns of a chat."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, DateTime, ForeignKey, Integer, String, UniqueConstraint, text
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


class Turn(SQLModel, table=True):
    """One user message and everything the assistant did for it; `content` follows docs/design.md section 4 (v1)."""

    __table_args__ = (UniqueConstraint("chat_id", "idx"), {"sqlite_autoincrement": True})

    id: int | None = Field(default=None, primary_key=True)
    chat_id: int = Field(sa_column=Column(Integer, ForeignKey("chat.id", ondelete="CASCADE"), index=True, nullable=False))
    idx: int
    user_text: str
    content: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    status: str = "complete"
    created_at: datetime = Stamp()
