"""Timeout-bounded connections and dialect-aware upserts for the stores beside the repository.

The same two rules as :class:`~app.db.repository.ChatRepository`: every call runs under
``asyncio.timeout`` (a slow database becomes a ``TimeoutError``, never a hung request), and
concurrent writers are settled by ``INSERT … ON CONFLICT`` in the database, not by our code.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

Upsert = postgresql.Insert | sqlite.Insert


class Database:
    def __init__(self, engine: AsyncEngine, timeout: float) -> None:
        self.engine = engine
        self.timeout = timeout

    def insert(self, table: Table) -> Upsert:
        if self.engine.dialect.name == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        async with asyncio.timeout(self.timeout), self.engine.begin() as connection:
            yield connection

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        async with asyncio.timeout(self.timeout), self.engine.connect() as connection:
            yield connection
