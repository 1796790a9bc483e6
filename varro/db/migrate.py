"""The schema comes from Alembic revisions (varro/db/migrations/versions), run at start-up or by a command.

`python -m app migrate` and `alembic upgrade head` do what start-up does. The first revision is the schema that
`create_all` used to make; on a database made that way it adds only what is missing, so such a database joins
the revisions without a manual stamp.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from varro.config import Settings
from varro.db import models  # noqa: F401  (registers the tables on SQLModel.metadata)
from varro.db.engine import make_engine

MIGRATIONS = Path(__file__).parent / "migrations"
# Processes starting together take turns on PostgreSQL: one migrates, the others then find nothing to do.
PG_LOCK_KEY = 0x7661_7272_6F  # "varro"


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """What the models describe: not the search index, which the revisions keep by hand (one per dialect)."""
    table = name if type_ == "table" else parent_names.get("table_name")
    return not (table or "").startswith("turn_fts")


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def migrate_connection(connection: Connection) -> None:
    """Run the pending revisions on `connection` (inside Alembic's env.py, in the caller's transaction)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_LOCK_KEY})
    context.configure(connection=connection, target_metadata=SQLModel.metadata, include_name=include_name,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def _upgrade(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def migrate(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the database up to `revision` (the latest by default)."""
    async with engine.begin() as conn:
        await conn.run_sync(_upgrade, revision)


def upgrade_head() -> None:
    """`python -m app migrate`: what `alembic upgrade head` does, without an alembic.ini."""
    command.upgrade(alembic_config(), "head")


async def migrate_url(url: str | None = None) -> None:
    """Inside env.py, from the command line: the database of `url`, or of VARRO_DATABASE_URL."""
    settings = Settings.model_validate({})  # from VARRO_* as ever (mypy can't see that fields have defaults)
    url = url or settings.database_url
    if url == settings.database_url and (path := settings.sqlite_path) is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(migrate_connection)
    finally:
        await engine.dispose()
