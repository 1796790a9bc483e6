"""A chat of many turns written straight into a SQLite database (the server may be running): long chats load in
batches (app/turn_window.py), and the tests need thousands of turns without answering each one."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, UserPromptPart

from varro.chat.content import build_content

LONG_AGO = "2001-01-01 00:00:00"  # older than any chat a test makes: the long chat is never the "most recent" one


def question(k: int) -> str:
    return f"Question {k} about quokkas"


def short_answer(k: int) -> str:
    return f"Answer **{k}**: quokkas live on Rottnest Island.\n\n- first point of answer {k}\n- second point\n"


def turn_row(chat_id: int, k: int, answer: str) -> tuple[object, ...]:
    messages = [ModelRequest(parts=[UserPromptPart(question(k))]), ModelResponse(parts=[TextPart(answer)])]
    content = build_content(question(k), datetime.now(UTC), messages, {}, {"model": "demo"})
    return chat_id, k, question(k), json.dumps(content), "complete", datetime.now(UTC).isoformat(" ")


def user_id(db: Path, name: str) -> int:
    with closing(sqlite3.connect(db, timeout=30)) as conn:
        return conn.execute("SELECT id FROM user WHERE name = ?", (name,)).fetchone()[0]


def write_chat(db: Path, owner: int, turns: int, answer: Callable[[int], str] = short_answer,
               resets: Sequence[int] = (), title: str = "A long chat about quokkas") -> int:
    """A new chat of `owner` with `turns` finished turns (turn k answered `answer(k)`) and the shell resets
    `resets`; its id."""
    with closing(sqlite3.connect(db, timeout=30)) as conn:
        cur = conn.execute("INSERT INTO chat (user_id, title, shell_resets, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                           (owner, title, json.dumps(list(resets)), LONG_AGO, LONG_AGO))
        chat_id = cur.lastrowid
        assert chat_id is not None
        conn.executemany("INSERT INTO turn (chat_id, idx, user_text, content, status, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                         [turn_row(chat_id, k, answer(k)) for k in range(turns)])
        conn.commit()
        return chat_id
