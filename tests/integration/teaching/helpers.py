"""Helpers shared by the teaching-loop tests: one turn over the socket, the turn's id, the cache's
Redis keys, and writing a turn record the way the turn path will once it records cache keys."""

from __future__ import annotations

from typing import Any

import httpx
import redis

from app.db.engine import create_engine
from app.db.records import TurnRecord
from app.db.repository import ChatRepository
from tests.conftest import Tutor
from tests.support.client import ask, connect
from tests.support.settings import REDIS_URL

COURSE = "course_tik_01"
QUESTION = "Apa itu manajemen infrastruktur TI?"
ANSWER = "Manajemen infrastruktur TI adalah kegiatan merencanakan dan memelihara sumber daya TI (hal. 1)."


async def one_turn(
    tutor: Tutor, question: str, user: str = "s1", course: str = COURSE, **fields: Any
) -> dict[str, Any]:
    ws, _ = await connect(tutor.url, user_id=user, course_id=course)
    async with ws:
        final = (await ask(ws, question, **fields)).final
    assert final["type"] == "chat_response", final
    return final


def http(tutor: Tutor, user: str = "lecturer") -> httpx.Client:
    return httpx.Client(base_url=tutor.url, headers={"X-User-Id": user}, timeout=30)


def cache_keys(tutor: Tutor) -> list[str]:
    """Redis keys of the semantic cache's entries (its index prefix is ``<prefix>-answers-…``)."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        pattern = f"{tutor.settings.key_prefix}-answers-*"
        return sorted(k.decode() for k in client.scan_iter(match=pattern, count=1000))
    finally:
        client.close()


async def record_turn(tutor: Tutor, **values: Any) -> TurnRecord:
    """Store a turn in the running server's database (as the turn path stores its turns)."""
    engine = create_engine(tutor.settings.resolved_database_url, 5.0)
    try:
        record = TurnRecord(
            **{"course_id": COURSE, "response_source": "rag", "answer": ANSWER, **values}
        )
        await ChatRepository(engine, 5.0).record_turn(record)
        return record
    finally:
        await engine.dispose()
