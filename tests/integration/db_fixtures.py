"""Real databases for the integration tests: a SQLite file and a throwaway PostgreSQL schema.

Import the fixtures into a test module (``from tests.integration.db_fixtures import ...``).
``db_engine`` is parametrized over both backends, so every test that uses it runs twice. The
PostgreSQL side creates a schema ``t_<hex>`` per test, pins it with ``search_path``, migrates into
it and drops it afterwards. It never skips: if PostgreSQL is unreachable the tests fail, because CI
starts it and a silent skip would hide a broken backend. Override the server with
``TEST_POSTGRES_URL``.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import create_engine, run_migrations
from app.db.repository import ChatRepository

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
TIMEOUT_S = 10.0

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@asynccontextmanager
async def postgres_schema() -> AsyncIterator[str]:
    """A fresh, empty schema on the test server, dropped with everything in it afterwards."""
    schema = f"t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(POSTGRES_URL, TIMEOUT_S)
    try:
        async with admin.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            yield schema
        finally:
            async with admin.begin() as connection:
                await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        await admin.dispose()


@asynccontextmanager
async def backend_engine(
    backend: str, folder: Path, *, migrate: bool
) -> AsyncIterator[AsyncEngine]:
    """An engine on an empty database of ``backend``, migrated to head when ``migrate``."""
    if backend == "sqlite":
        engine = create_engine(f"sqlite+aiosqlite:///{folder / 'tutor.db'}", TIMEOUT_S)
        try:
            if migrate:
                await run_migrations(engine)
            yield engine
        finally:
            await engine.dispose()
        return
    async with postgres_schema() as schema:
        engine = create_engine(
            POSTGRES_URL, TIMEOUT_S, connect_args={"server_settings": {"search_path": schema}}
        )
        try:
            if migrate:
                await run_migrations(engine)
            yield engine
        finally:
            await engine.dispose()


@pytest.fixture(params=BACKENDS)
async def db_engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    """A migrated, empty database: SQLite and PostgreSQL in turn."""
    async with backend_engine(request.param, tmp_path, migrate=True) as engine:
        yield engine


@pytest.fixture(params=BACKENDS)
async def blank_engine(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[AsyncEngine]:
    """An empty database with no tables yet (a server whose migration has not run)."""
    async with backend_engine(request.param, tmp_path, migrate=False) as engine:
        yield engine


@pytest.fixture
def repository(db_engine: AsyncEngine) -> ChatRepository:
    return ChatRepository(db_engine, TIMEOUT_S)
