"""Alembic environment: upgrade the connection we are handed, or open one from DATABASE_URL.

The server and the tests call :func:`app.db.engine.run_migrations`, which passes its own connection
in ``config.attributes["connection"]``, so migrations run with that engine's pragmas, timeouts and
``search_path``. The command line (``alembic upgrade head`` from the project root) has none, so we
build an engine the same way the server does, from ``sqlalchemy.url`` if set, else ``DATABASE_URL``
(via Settings, which falls back to the SQLite file under ``DATA_DIR``).
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig

from alembic import context
from sqlalchemy.engine import Connection

from app.db.engine import async_url, create_engine
from app.db.models import metadata

config = context.config


def _database_url() -> tuple[str, float]:
    from app.core.config import get_settings

    settings = get_settings()
    url = config.get_main_option("sqlalchemy.url") or settings.resolved_database_url
    return url, settings.database_timeout_seconds


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_from_url() -> None:
    url, timeout = _database_url()
    engine = create_engine(url, timeout)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_configure)
            await connection.commit()
    finally:
        await engine.dispose()


def _run_offline() -> None:
    """``alembic upgrade head --sql``: print the DDL instead of running it."""
    url, _ = _database_url()
    context.configure(
        url=async_url(url), target_metadata=metadata, literal_binds=True, compare_type=True
    )
    with context.begin_transaction():
        context.run_migrations()


given: Connection | None = config.attributes.get("connection")
if given is None and config.config_file_name is not None:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

if context.is_offline_mode():
    _run_offline()
elif given is not None:
    _configure(given)
else:
    asyncio.run(_run_from_url())
