"""The database layer on real SQLite and real PostgreSQL: schema, profiles, turns, isolation."""

from __future__ import annotations

import asyncio
import random
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, func, inspect, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.engine import SCHEMA_HEAD, alembic_config, at_schema_head, create_engine, run_migrations
from app.db.models import metadata
from app.db.records import StudentProfile, TurnRecord
from app.db.repository import ROOMS, TURNS, ChatRepository
from tests.integration.db_fixtures import (
    POSTGRES_URL,
    TIMEOUT_S,
    db_engine,
    postgres_schema,
    repository,
)

pytestmark = pytest.mark.integration
__all__ = ["db_engine", "repository"]

T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def make_turn(**overrides: Any) -> TurnRecord:
    values: dict[str, Any] = {
        "user_id": "alice",
        "course_id": "course_tik_01",
        "chatroom_id": "room-1",
        "query": "Apa itu VLAN?",
        "answer": "VLAN memisahkan jaringan secara logis.",
        "sources": [{"material_id": "m1", "page": "12.2", "score": 0.81}],
        "response_source": "rag",
        "model": "gpt-4o-mini",
        "input_tokens": 120,
        "output_tokens": 40,
        "total_tokens": 160,
        "cost_usd": 0.000042,
        "latency_ms": 812.5,
        "language": "id",
    }
    values.update(overrides)
    return TurnRecord(**values)


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


def _schema(connection: Connection) -> dict[str, set[str]]:
    inspector = inspect(connection)
    return {
        "tables": set(inspector.get_table_names()),
        "indexes": {index["name"] or "" for index in inspector.get_indexes("turns")},
        "uniques": {u["name"] or "" for u in inspector.get_unique_constraints("chatrooms")},
    }


# --- schema ------------------------------------------------------------------------------------


async def test_migration_creates_the_schema(db_engine: AsyncEngine) -> None:
    async with db_engine.connect() as connection:
        schema = await connection.run_sync(_schema)
        revision = await connection.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )
    assert schema["tables"] == {
        "alembic_version",
        "students",
        "chatrooms",
        "turns",
        "feedback",
        "curated_answers",
    }
    assert {"ix_turns_user_room_created", "ix_turns_created_at"} <= schema["indexes"]
    assert "uq_chatrooms_user_room" in schema["uniques"]
    assert revision == ScriptDirectory.from_config(alembic_config()).get_current_head()


async def test_migration_matches_the_models(db_engine: AsyncEngine) -> None:
    async with db_engine.connect() as connection:
        assert await connection.run_sync(_differences) == []


def test_the_schema_head_constant_is_alembics_head() -> None:
    """Start-up skips Alembic when the database is at SCHEMA_HEAD: it must be the newest migration."""
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == SCHEMA_HEAD


async def test_a_migrated_schema_is_recognised_as_current(db_engine: AsyncEngine) -> None:
    async with db_engine.connect() as connection:
        assert await connection.run_sync(at_schema_head)
        await connection.execute(text("UPDATE alembic_version SET version_num = '0002'"))
        assert not await connection.run_sync(at_schema_head)
        await connection.rollback()


async def test_migrating_twice_changes_nothing(db_engine: AsyncEngine) -> None:
    await run_migrations(db_engine)
    async with db_engine.connect() as connection:
        assert await connection.run_sync(_differences) == []


async def test_ping(repository: ChatRepository) -> None:
    await repository.ping()


# --- profiles ----------------------------------------------------------------------------------


async def test_profile_upsert_then_get(repository: ChatRepository) -> None:
    assert await repository.get_profile("alice") is None

    first = StudentProfile(level="beginner", preferred_language="id", study_program="Informatics")
    assert await repository.upsert_profile("alice", first) == first
    assert await repository.get_profile("alice") == first

    second = StudentProfile(level="advanced", preferred_language="en")
    assert await repository.upsert_profile("alice", second) == second
    assert await repository.get_profile("alice") == second  # study_program cleared: PUT replaces
    assert await repository.get_profile("bob") is None


async def test_a_student_who_only_chatted_has_an_empty_profile(
    repository: ChatRepository,
) -> None:
    await repository.record_turn(make_turn(user_id="carol"))
    assert await repository.get_profile("carol") == StudentProfile()


# --- turns -------------------------------------------------------------------------------------


async def test_record_turn_stores_every_field(repository: ChatRepository) -> None:
    jakarta = timezone(timedelta(hours=7))
    turn = make_turn(created_at=datetime(2025, 3, 1, 15, 30, 1, 250000, tzinfo=jakarta))
    assert await repository.record_turn(turn) is True

    async with repository.engine.connect() as connection:
        row = (await connection.execute(select(TURNS))).mappings().one()
    assert row["created_at"] == turn.created_at
    assert row["created_at"].utcoffset() == timedelta(0)
    assert row["sources"] == turn.sources
    for field, value in turn.model_dump(exclude={"chatroom_id", "created_at"}).items():
        assert row[field] == value, field


async def test_record_turn_twice_stores_once(repository: ChatRepository) -> None:
    turn = make_turn()
    assert await repository.record_turn(turn) is True
    assert await repository.record_turn(turn) is False
    assert await repository.count_turns() == 1


async def test_concurrent_record_turn_stores_once(repository: ChatRepository) -> None:
    turn = make_turn(chatroom_id="fresh-room")
    results = await asyncio.gather(*(repository.record_turn(turn) for _ in range(4)))
    assert sorted(results) == [False, False, False, True]
    assert await repository.count_turns() == 1


async def test_concurrent_turns_of_a_new_room_share_one_room(repository: ChatRepository) -> None:
    turns = [make_turn(user_id="dora", chatroom_id="new") for _ in range(5)]
    assert all(await asyncio.gather(*(repository.record_turn(t) for t in turns)))
    assert await repository.count_turns("dora") == 5
    async with repository.engine.connect() as connection:
        rooms = await connection.scalar(select(func.count()).select_from(ROOMS))
    assert rooms == 1


async def test_recent_turns_are_completed_oldest_first_and_limited(
    repository: ChatRepository,
) -> None:
    completed = [
        make_turn(query=f"q{i}", answer=f"a{i}", created_at=T0 + timedelta(minutes=i))
        for i in range(6)
    ]
    others = [
        make_turn(query="cancelled", status="cancelled", created_at=T0 + timedelta(hours=1)),
        make_turn(query="failed", status="failed", error_code="SERVICE_UNAVAILABLE"),
        make_turn(query="other room", chatroom_id="room-2", created_at=T0 + timedelta(hours=2)),
        make_turn(query="no room", chatroom_id=None, created_at=T0 + timedelta(hours=3)),
    ]
    shuffled = completed + others
    random.Random(7).shuffle(shuffled)
    for turn in shuffled:
        await repository.record_turn(turn)

    recent = await repository.recent_turns("alice", "room-1", limit=4)
    assert [t.query for t in recent] == ["q2", "q3", "q4", "q5"]
    assert [t.answer for t in recent] == ["a2", "a3", "a4", "a5"]
    assert recent[0].created_at == T0 + timedelta(minutes=2)
    assert len(await repository.recent_turns("alice", "room-1", limit=50)) == 6
    assert await repository.recent_turns("alice", "room-1", limit=0) == []
    assert await repository.recent_turns("alice", None, limit=4) == []
    assert await repository.recent_turns("alice", "missing", limit=4) == []
    assert await repository.count_turns("alice") == 10


async def test_a_chatroom_id_belongs_to_one_user(repository: ChatRepository) -> None:
    await repository.record_turn(make_turn(user_id="alice", chatroom_id="shared", query="mine"))
    assert await repository.recent_turns("bob", "shared", limit=10) == []

    await repository.record_turn(make_turn(user_id="bob", chatroom_id="shared", query="bob's"))
    alice = await repository.recent_turns("alice", "shared", limit=10)
    bob = await repository.recent_turns("bob", "shared", limit=10)
    assert [t.query for t in alice] == ["mine"]
    assert [t.query for t in bob] == ["bob's"]

    async with repository.engine.connect() as connection:
        owners = await connection.execute(
            select(ROOMS.c.user_id).where(ROOMS.c.chatroom_id == "shared")
        )
        assert sorted(owners.scalars()) == ["alice", "bob"]


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
async def test_concurrent_migrations_of_several_workers_run_once(
    backend: str, tmp_path: Path
) -> None:
    """Workers start together and each migrates: one migrates, the others wait and find head."""
    async with AsyncExitStack() as stack:
        if backend == "postgres":
            schema = await stack.enter_async_context(postgres_schema())
            url, args = POSTGRES_URL, {"server_settings": {"search_path": schema}}
        else:
            url, args = f"sqlite+aiosqlite:///{tmp_path / 'workers.db'}", {}
        engines = [create_engine(url, TIMEOUT_S, connect_args=args) for _ in range(4)]
        for engine in engines:
            stack.push_async_callback(engine.dispose)
        await asyncio.gather(*(run_migrations(engine) for engine in engines))
        async with engines[0].connect() as connection:
            rows = (await connection.execute(text("SELECT version_num FROM alembic_version"))).all()
            assert len(rows) == 1
            assert not await connection.run_sync(_differences)
