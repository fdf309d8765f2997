"""Build the async engine for ``DATABASE_URL`` and bring its schema to the newest migration.

Nothing is created at import: the lifespan calls :func:`create_engine` inside the running loop
(async pools bind to the loop that first uses them) and disposes the engine on shutdown.

SQLite is the zero-setup default, so it gets what a server needs from it: the folder is created,
WAL lets the history reads run while a turn is written, ``busy_timeout`` makes concurrent writers
wait instead of failing with "database is locked", and foreign keys are switched on (SQLite leaves
them off). PostgreSQL goes through asyncpg with a connect timeout and a server-side
``command_timeout``, so a hung server cannot hold a request forever even if a caller forgot its
own ``asyncio.timeout``.
"""

from __future__ import annotations

import asyncio
import fcntl
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Generous on purpose: a future migration may rewrite a large table. Wrap the call in a shorter
# asyncio.timeout if start-up must fail faster.
MIGRATION_TIMEOUT_S = 300.0
# The newest migration's revision. A schema already there needs no Alembic, whose import (with
# Mako and Pygments) costs each worker ~10 MiB for good; a test keeps this equal to Alembic's head.
SCHEMA_HEAD = "0003"
# pg_advisory_xact_lock key of the schema migration ("tutor-db" as a 64-bit number).
MIGRATION_LOCK_KEY = int.from_bytes(b"tutor-db", "big") & 0x7FFF_FFFF_FFFF_FFFF

_ASYNC_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}


def async_url(url: str) -> URL:
    """Accept the usual spellings (``postgres://``, ``sqlite://``) and pick the async driver."""
    parsed = make_url(url)
    driver = _ASYNC_DRIVERS.get(parsed.drivername)
    return parsed.set(drivername=driver) if driver else parsed


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _sqlite_pragmas(busy_timeout_ms: int) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    return on_connect


def create_engine(
    url: str, timeout: float, *, connect_args: Mapping[str, Any] | None = None
) -> AsyncEngine:
    """An engine for ``url`` whose connects and statements give up after ``timeout`` seconds.

    ``connect_args`` is merged over the defaults (tests pass asyncpg ``server_settings`` to pin a
    ``search_path``).
    """
    parsed = async_url(url)
    backend = parsed.get_backend_name()
    args: dict[str, Any] = {}
    if backend == "sqlite":
        path = _sqlite_file(parsed)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        args["timeout"] = timeout
    elif backend == "postgresql":
        args.update(timeout=timeout, command_timeout=timeout)
    args.update(connect_args or {})

    # hide_parameters: a failed INSERT must not put a student's question into the logs.
    engine = create_async_engine(
        parsed, connect_args=args, pool_pre_ping=backend != "sqlite", hide_parameters=True
    )
    if backend == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas(int(timeout * 1000)))
    return engine


def alembic_config() -> Config:
    """Alembic settings without an ini file: the server and tests need only the script folder."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    return config


def at_schema_head(connection: Connection) -> bool:
    if not inspect(connection).has_table("alembic_version"):
        return False
    versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    return list(versions) == [SCHEMA_HEAD]


def _upgrade(connection: Connection, revision: str) -> None:
    if revision == "head" and at_schema_head(connection):
        return
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def run_migrations(engine: AsyncEngine) -> None:
    """``alembic upgrade head`` on ``engine`` in one transaction (a failed step leaves no trace
    on PostgreSQL), bounded by :data:`MIGRATION_TIMEOUT_S`.

    Several workers (or replicas) start at once and each migrates: on PostgreSQL the transaction
    first takes an advisory lock, so one of them migrates while the others wait and then find
    the schema at head; on SQLite a lock file next to the database does the same.
    """
    async with asyncio.timeout(MIGRATION_TIMEOUT_S):
        if engine.dialect.name == "postgresql":
            async with engine.begin() as connection:
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                await connection.run_sync(_upgrade, "head")
            return
        path = _sqlite_file(engine.url)
        lock = path.with_name(path.name + ".migrate.lock") if path else None
        async with _file_lock(lock), engine.begin() as connection:
            await connection.run_sync(_upgrade, "head")


@asynccontextmanager
async def _file_lock(path: Path | None) -> AsyncIterator[None]:
    """An exclusive ``flock`` held while the block runs (waiting for it in a worker thread)."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a")
    try:
        await asyncio.to_thread(fcntl.flock, handle.fileno(), fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        handle.close()
