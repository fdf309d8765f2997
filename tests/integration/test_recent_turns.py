"""A room's recent turns in Redis, merged with the database's by the history reader (real Redis,
SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from app.core.redis import async_client
from app.db.records import TurnRecord
from app.db.repository import ChatRepository
from app.services.history import ConversationSource
from app.services.recent import RecentTurns
from tests.integration.db_fixtures import TIMEOUT_S, db_engine, repository
from tests.support.settings import REDIS_URL

pytestmark = pytest.mark.integration
__all__ = ["db_engine", "repository"]

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
async def recent(prefix: str) -> AsyncIterator[RecentTurns]:
    client = async_client(REDIS_URL, TIMEOUT_S)
    yield RecentTurns(client, prefix, keep=3, timeout=TIMEOUT_S)
    await client.aclose()


def turn(turn_id: str, minutes: int, user: str = "alice", room: str = "room-1") -> TurnRecord:
    return TurnRecord(
        id=turn_id,
        user_id=user,
        course_id="course_tik_01",
        chatroom_id=room,
        query=f"pertanyaan {turn_id}",
        answer=f"jawaban {turn_id}",
        response_source="rag",
        created_at=T0 + timedelta(minutes=minutes),
    )


async def remember(recent: RecentTurns, record: TurnRecord) -> None:
    await recent.remember(
        record.user_id,
        record.chatroom_id,
        record.id,
        record.query,
        record.answer,
        record.created_at,
    )


async def test_database_and_recent_turns_are_merged_once_in_order(
    repository: ChatRepository, recent: RecentTurns
) -> None:
    source = ConversationSource(repository, 4, TIMEOUT_S, recent)
    for record in (turn("t1", 1), turn("t2", 2), turn("t3", 3)):
        await repository.record_turn(record)
    await remember(recent, turn("t3", 3))  # in both: counted once
    await remember(recent, turn("t4", 4))  # answered, not in the database yet
    context = await source.load("alice", "room-1", personalize=False)
    assert [q for q, _ in context.turns] == [f"pertanyaan t{i}" for i in (1, 2, 3, 4)]
    await remember(recent, turn("t5", 5))
    context = await source.load("alice", "room-1", personalize=False)
    assert [a for _, a in context.turns] == [f"jawaban t{i}" for i in (2, 3, 4, 5)]  # the last 4


async def test_recent_turns_belong_to_one_user_and_room_and_are_capped(
    recent: RecentTurns,
) -> None:
    source = ConversationSource(None, 10, TIMEOUT_S, recent)
    for i in range(5):
        await remember(recent, turn(f"a{i}", i))
    await remember(recent, turn("b1", 9, user="bob"))
    await remember(recent, turn("c1", 9, user="alice:room", room="1"))  # no key collision
    mine = await source.load("alice", "room-1", personalize=False)
    assert [q for q, _ in mine.turns] == ["pertanyaan a2", "pertanyaan a3", "pertanyaan a4"]
    assert (await source.load("bob", "room-1", personalize=False)).turns == [
        ("pertanyaan b1", "jawaban b1")
    ]
    assert (await source.load("alice", "room-2", personalize=False)).turns == []
    assert (await source.load("alice", None, personalize=False)).turns == []
