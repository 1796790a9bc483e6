"""Alembic's entry point: migrate the connection the app hands over, or VARRO_DATABASE_URL from the command line."""

from __future__ import annotations

import asyncio

from alembic import context

from varro.db.migrate import migrate_connection, migrate_url

connection = context.config.attributes.get("connection")
if connection is not None:  # varro.db.migrate.migrate(): the app's own engine, at start-up
    migrate_connection(connection)
else:  # `alembic upgrade head` from the command line
    asyncio.run(migrate_url(context.config.attributes.get("url")))
