"""The turn recorder against a database that is down: buffered, replayed, stored exactly once.

"Down" is real: a PostgreSQL URL on a closed port, a database whose migration has not run yet, a
Redis URL on a closed port. The working side is the project's Redis Stack and SQLite/PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.core.redis import async_client
from app.db.engine import create_engine, run_migrations
from app.db.recorder import TurnRecorder
from app.db.records import TurnRecord
from app.db.repository import ChatRepository
from tests.integration.db_fixtures import (
    TIMEOUT_S,
    backend_engine,
    blank_engine,
    db_engine,
    repository,
)

pytestmark = pytest.mark.integration
__all__ = ["blank_engine", "db_engine", "repository"]

REDIS_URL = "redis://127.0.0.1:6380/0"
CLOSED_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:1/x"
CLOSED_REDIS = "redis://127.0.0.1:1/0"
SECRET = "my student number is 4711"
T0 = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def turn(i: int, **overrides: object) -> TurnRecord:
    values: dict[str, object] = {
        "user_id": "alice",
        "chatroom_id": "room-1",
        "query": f"{SECRET} q{i}",
        "answer": f"a{i}",
        "response_source": "rag",
        "created_at": T0 + timedelta(seconds=i),
    }
    values.update(overrides)
    return TurnRecord.model_validate(values)


async def items(redis: Redis, key: str) -> list[bytes]:
    return await cast(Awaitable[list[bytes]], redis.lrange(key, 0, -1))


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = async_client(REDIS_URL, 5.0)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def outbox_key(redis: Redis) -> AsyncIterator[str]:
    key = f"test:{uuid.uuid4().hex}:turn-outbox"
    try:
        yield key
    finally:
        await redis.delete(key, f"{key}:dead")


@pytest.fixture
async def down_repository() -> AsyncIterator[ChatRepository]:
    engine = create_engine(CLOSED_POSTGRES, 2.0)
    try:
        yield ChatRepository(engine, 2.0)
    finally:
        await engine.dispose()


@pytest.fixture
async def down_redis() -> AsyncIterator[Redis]:
    client = async_client(CLOSED_REDIS, 1.0)
    try:
        yield client
    finally:
        await client.aclose()


async def test_record_goes_straight_to_the_database_when_it_is_up(
    repository: ChatRepository, redis: Redis, outbox_key: str
) -> None:
    recorder = TurnRecorder(repository, redis, outbox_key, TIMEOUT_S)
    first = turn(1)
    assert await recorder.record(first) == "stored"
    assert await recorder.record(first) == "duplicate"
    assert await recorder.pending() == 0
    assert await repository.count_turns() == 1


async def test_database_down_buffers_in_redis_then_drain_stores_each_turn_once(
    repository: ChatRepository,
    down_repository: ChatRepository,
    redis: Redis,
    outbox_key: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    turns = [turn(i) for i in range(3)]
    down = TurnRecorder(down_repository, redis, outbox_key, TIMEOUT_S)
    with caplog.at_level(logging.INFO, logger="app.db.recorder"):
        for t in [*turns, turns[0]]:  # the same turn buffered twice
            assert await down.record(t) == "outbox"
        assert await down.drain() == 0  # still down: nothing leaves the outbox
    assert await down.pending() == 4
    assert turns[0].id in caplog.text
    assert SECRET not in caplog.text

    # A worker that crashed after writing turns[1] but before removing it from the outbox.
    assert await repository.record_turn(turns[1]) is True

    up = TurnRecorder(repository, redis, outbox_key, TIMEOUT_S)
    assert await up.drain() == 4
    assert await repository.count_turns() == 3
    assert await up.pending() == 0
    assert await items(redis, f"{outbox_key}:dead") == []
    history = await repository.recent_turns("alice", "room-1", limit=10)
    assert [h.answer for h in history] == ["a0", "a1", "a2"]


async def test_concurrent_drains_store_each_turn_once(
    repository: ChatRepository, down_repository: ChatRepository, redis: Redis, outbox_key: str
) -> None:
    down = TurnRecorder(down_repository, redis, outbox_key, TIMEOUT_S)
    for i in range(20):
        assert await down.record(turn(i, chatroom_id=f"room-{i % 3}")) == "outbox"

    workers = [TurnRecorder(repository, redis, outbox_key, TIMEOUT_S) for _ in range(3)]
    for _ in range(5):  # each pass takes at most 8 per worker; overlapping takes are expected
        await asyncio.gather(*(w.drain(max_items=8) for w in workers))
    assert await workers[0].pending() == 0
    assert await repository.count_turns() == 20


async def test_redis_down_too_keeps_turns_in_memory_until_the_database_is_back(
    blank_engine: AsyncEngine, down_redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    # No tables yet: every write fails, as it would while the migration has not run.
    repository = ChatRepository(blank_engine, TIMEOUT_S)
    recorder = TurnRecorder(repository, down_redis, "unused", TIMEOUT_S)
    turns = [turn(i) for i in range(2)]
    with caplog.at_level(logging.INFO, logger="app.db.recorder"):
        assert [await recorder.record(t) for t in turns] == ["memory", "memory"]
        assert await recorder.drain() == 0
    assert recorder.in_memory == 2
    assert all(t.id in caplog.text for t in turns)
    assert SECRET not in caplog.text
    with pytest.raises(RedisError):
        await recorder.pending()

    await run_migrations(blank_engine)
    assert await recorder.drain() == 2
    assert recorder.in_memory == 0
    assert await repository.count_turns() == 2


async def test_memory_buffer_is_bounded_and_says_which_turn_it_lost(
    down_repository: ChatRepository, down_redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = TurnRecorder(down_repository, down_redis, "unused", TIMEOUT_S, memory_limit=2)
    turns = [turn(i) for i in range(3)]
    with caplog.at_level(logging.ERROR, logger="app.db.recorder"):
        for t in turns:
            assert await recorder.record(t) == "memory"
    assert recorder.in_memory == 2
    assert f"turn {turns[0].id} dropped" in caplog.text


async def test_an_entry_the_database_can_never_take_is_moved_aside(
    repository: ChatRepository, redis: Redis, outbox_key: str
) -> None:
    good = turn(1)
    await cast(Awaitable[int], redis.rpush(outbox_key, b"{not json", good.model_dump_json()))
    recorder = TurnRecorder(repository, redis, outbox_key, TIMEOUT_S)
    assert await recorder.drain() == 1
    assert await items(redis, outbox_key) == []
    assert await items(redis, f"{outbox_key}:dead") == [b"{not json"]
    assert await repository.count_turns() == 1


async def test_run_drains_in_the_background_until_cancelled(
    repository: ChatRepository, down_repository: ChatRepository, redis: Redis, outbox_key: str
) -> None:
    down = TurnRecorder(down_repository, redis, outbox_key, TIMEOUT_S)
    for i in range(5):
        await down.record(turn(i))

    recorder = TurnRecorder(repository, redis, outbox_key, TIMEOUT_S)
    task = asyncio.create_task(recorder.run(interval_s=0.05, max_items=2))
    try:
        for _ in range(500):  # up to 10 s
            if await repository.count_turns() == 5:
                break
            await asyncio.sleep(0.02)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert await repository.count_turns() == 5
    assert await recorder.pending() == 0


async def test_text_the_database_cannot_encode_goes_to_the_dead_letters_at_once(
    repository: ChatRepository, redis: Redis, outbox_key: str
) -> None:
    """A lone surrogate can never be stored (UTF-8 cannot encode it): no retry every 5 s forever."""
    bad = turn(1, query="\ud800")
    recorder = TurnRecorder(repository, redis, outbox_key, TIMEOUT_S)
    assert await recorder.record(bad) == "dead"
    assert await recorder.pending() == 0 and recorder.in_memory == 0
    dead = await items(redis, f"{outbox_key}:dead")
    assert len(dead) == 1 and bad.id.encode() in dead[0] and b"\\ud800" in dead[0]
    assert await recorder.drain() == 0 and await repository.count_turns() == 0


async def test_a_record_that_keeps_failing_is_moved_aside_after_bounded_retries(
    tmp_path: Path, redis: Redis, outbox_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The database is up and takes other turns, but refuses this one with an error of no known
    class (here a trigger's RAISE, SQLSTATE P0001): retried a few times, then moved aside."""
    async with backend_engine("postgres", tmp_path, migrate=True) as engine:
        async with engine.begin() as connection:
            await connection.execute(text(POISON_FUNCTION))
            await connection.execute(text(POISON_TRIGGER))
        repository = ChatRepository(engine, TIMEOUT_S)
        poisoned, good = turn(1, query="poison pill"), turn(2)
        await cast(Awaitable[int], redis.rpush(outbox_key, poisoned.model_dump_json()))
        recorder = TurnRecorder(repository, redis, outbox_key, TIMEOUT_S, max_attempts=3)
        assert await recorder.record(good) == "stored"
        with caplog.at_level(logging.INFO, logger="app.db.recorder"):
            for _ in range(2):
                assert await recorder.drain() == 0
                assert await items(redis, outbox_key) != []  # still retried
            assert await recorder.drain() == 0
        assert await items(redis, outbox_key) == []
        assert len(await items(redis, f"{outbox_key}:dead")) == 1
        assert f"turn {poisoned.id} failed 3 times" in caplog.text
        assert await repository.count_turns() == 1


async def test_an_unreachable_database_is_retried_without_limit(
    down_repository: ChatRepository, redis: Redis, outbox_key: str
) -> None:
    recorder = TurnRecorder(down_repository, redis, outbox_key, TIMEOUT_S, max_attempts=2)
    assert await recorder.record(turn(1)) == "outbox"
    for _ in range(4):
        assert await recorder.drain() == 0
    assert await recorder.pending() == 1
    assert await items(redis, f"{outbox_key}:dead") == []


POISON_FUNCTION = """
CREATE FUNCTION refuse_poison() RETURNS trigger AS $$
BEGIN
    IF NEW.query LIKE 'poison%' THEN RAISE EXCEPTION 'refused by a trigger'; END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql
"""
POISON_TRIGGER = (
    "CREATE TRIGGER refuse_poison BEFORE INSERT ON turns "
    "FOR EACH ROW EXECUTE FUNCTION refuse_poison()"
)
