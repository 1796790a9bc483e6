"""The schema's revisions: the same schema from empty and from a database `create_all` made, and no drift from the
models, on SQLite and on PostgreSQL."""

from __future__ import annotations

import importlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import (
    JSON,
    Column,
    Connection,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    inspect,
    text,
)
from sqlmodel import SQLModel

from varro.db.crud import Store
from varro.db.engine import make_engine, make_sessions
from varro.db.migrate import alembic_config, include_name, migrate

ROOT = Path(__file__).resolve().parents[2]
baseline = importlib.import_module("varro.db.migrations.versions.0001_baseline")


# The latest revision, as its scripts say.
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def schema(conn: Connection) -> dict[str, Any]:
    """Everything a revision decides: tables, columns, keys, indexes, and the search index's triggers."""
    insp = inspect(conn)
    tables: dict[str, Any] = {}
    for name in sorted(insp.get_table_names()):
        tables[name] = {
            # by name: a column a later release added comes last in an older table, which changes nothing
            "columns": sorted((c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                              for c in insp.get_columns(name)),
            "pk": insp.get_pk_constraint(name)["constrained_columns"],
            "fks": sorted((tuple(f["constrained_columns"]), f["referred_table"], str(f.get("options")))
                          for f in insp.get_foreign_keys(name)),
            "indexes": sorted((i["name"], tuple(i["column_names"]), i["unique"]) for i in insp.get_indexes(name)),
            "unique": sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(name)),
        }
    if conn.dialect.name == "sqlite":
        triggers = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name"))
    else:
        triggers = conn.execute(text("SELECT trigger_name, event_manipulation FROM information_schema.triggers "
                                     "ORDER BY 1, 2"))
    return {"tables": tables, "triggers": [tuple(r) for r in triggers]}


def model_diff(conn: Connection) -> list[Any]:
    ctx = MigrationContext.configure(conn, opts={"include_name": include_name, "compare_type": True})
    return list(compare_metadata(ctx, SQLModel.metadata))


OLD = MetaData()
Table("chat", OLD, Column("id", Integer, primary_key=True))  # only for the key below: not created
OLD_TURN = Table(
    "turn", OLD,
    Column("id", Integer, primary_key=True),
    Column("chat_id", Integer, ForeignKey("chat.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("idx", Integer, nullable=False),
    Column("user_text", String, nullable=False),
    Column("content", JSON, nullable=False),
    Column("status", String, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("chat_id", "idx"),
    sqlite_autoincrement=True,
)


async def legacy_create_all(url: str, drop_auto_title: bool = False) -> None:
    """A database as the code before migrations made it: `create_all`, then SQLite's search index."""
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(SQLModel.metadata.create_all)
        for added in ("fence", "pinned", "archived", "kernel_host"):  # added by revisions since
            await conn.execute(text(f"ALTER TABLE chat DROP COLUMN {added}"))
        await conn.execute(text("DROP TABLE share"))  # added by a revision since
        await conn.execute(text("DROP TABLE turn"))  # as it was before turns formed a tree (a later revision)
        await conn.run_sync(lambda sync: OLD_TURN.create(sync))
        if drop_auto_title:  # older still: from before chats had an automatic title
            await conn.execute(text("ALTER TABLE chat DROP COLUMN auto_title"))
        if conn.dialect.name == "sqlite":
            for ddl in baseline.SQLITE_SEARCH:
                await conn.execute(text(ddl))
        await conn.execute(text("INSERT INTO \"user\" (name) VALUES ('old')"))
        await conn.execute(text("INSERT INTO chat (user_id, title, shell_resets, created_at, updated_at) "
                                "VALUES (1, 'Kept', '[]', '2020-01-01', '2020-01-01')"))
        await conn.execute(text("INSERT INTO turn (chat_id, idx, user_text, content, status, created_at) "
                                "VALUES (1, 0, 'about glaciers', '{}', 'complete', '2020-01-01')"))
    await engine.dispose()


async def migrated_schema(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    await migrate(engine)
    async with engine.connect() as conn:
        got = await conn.run_sync(schema)
        assert await conn.run_sync(model_diff) == [], "the latest revision and the models agree"
    await engine.dispose()
    return got


async def test_the_models_match_the_latest_revision(database_url: str) -> None:
    engine = make_engine(database_url)
    await migrate(engine)
    async with engine.connect() as conn:
        assert await conn.run_sync(model_diff) == []
    await engine.dispose()


async def test_a_create_all_database_upgrades_to_the_schema_of_an_empty_one(database_url: str, tmp_path: Path) -> None:
    fresh = await migrated_schema(database_url)
    if database_url.startswith("sqlite"):
        old_url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        await legacy_create_all(old_url, drop_auto_title=True)
        assert await migrated_schema(old_url) == fresh
    else:
        engine = make_engine(database_url)  # the same PostgreSQL database, emptied and made the old way
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
        await legacy_create_all(database_url, drop_auto_title=True)
        old_url = database_url
        assert await migrated_schema(old_url) == fresh
    engine = make_engine(old_url)
    chats = Store(make_sessions(engine)).chats.for_user(1)
    [chat] = await chats.recent()
    assert (chat.title, chat.auto_title) == ("Kept", ""), "what the old database held is kept"
    assert [h.turn for h in await chats.search("glacier")] == [0], "turns written before the index are found"
    await engine.dispose()


def test_the_migrate_command_and_alembic_upgrade_head(tmp_path: Path) -> None:
    env = {**os.environ, "VARRO_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"}
    subprocess.run([sys.executable, "-m", "app", "migrate"], cwd=ROOT, env=env, check=True, timeout=120)
    env["VARRO_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'b.db'}"
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env, check=True, timeout=120)
    for db in ("a.db", "b.db"):
        with sqlite3.connect(tmp_path / db) as conn:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(HEAD,)]


async def test_sqlite_reads_the_shown_path_by_its_index(tmp_path: Path) -> None:
    """A turn's start and end (varro/db/crud/turn_sql.py) and the page's turns select the shown path as SQLAlchemy
    writes it (`on_path = 1`): SQLite then reads those rows by the partial index, not every turn of the chat (each
    past its stored answer)."""
    from sqlmodel import col, select

    from varro.db.crud import turn_sql
    from varro.db.models import Turn

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'plan.db'}")
    await migrate(engine)
    values = {"chat": 1, "at": 3, "before": 2, "child": 9, "body": {}, "state": "complete", "words": "",
              "now": None, "epoch": 1}
    statements = [turn_sql.HIDE_FROM, turn_sql.LINK, turn_sql.FINISH, turn_sql.START,
                  select(Turn.idx, Turn.id).where(col(Turn.chat_id) == 1, col(Turn.on_path))]  # the page's turns
    async with engine.connect() as conn:
        for statement in statements:
            compiled = statement.compile(conn.sync_engine)
            bound = compiled.construct_params(values)
            args = tuple(bound[name] if name != "body" else "{}" for name in compiled.positiontup or [])
            plan = " ".join(r[3] for r in await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", args))
            assert "uq_turn_shown" in plan, (str(compiled), plan)
    await engine.dispose()
