"""The curated-answer store on SQLite and PostgreSQL: idempotent put per question, course scoping,
flags, vectors, and the conflict when an edit collides with another question."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from app.db.access import Database
from app.db.curated_store import CuratedRecord, CuratedStore
from app.db.records import utcnow
from app.teaching.curated import question_key
from tests.integration.db_fixtures import db_engine

pytestmark = pytest.mark.integration
__all__ = ["db_engine"]


def make(answer_id: str, question: str, course: str = "c1", **extra: Any) -> CuratedRecord:
    now = utcnow()
    values: dict[str, Any] = {
        "id": answer_id, "course_id": course, "question": question,
        "question_key": question_key(question), "answer": f"answer {answer_id}",
        "references": [{"material_id": "m1", "filename": "m1.pdf", "title": "M1", "page": 3}],
        "material_hashes": {"m1": "abc"}, "status": "active", "review_reason": None,
        "vector": [0.1, 0.2], "vector_model": "e5", "source_turn_id": None,
        "created_by": "dosen", "updated_by": "dosen", "created_at": now, "updated_at": now,
    }  # fmt: skip
    values.update(extra)
    return CuratedRecord(**values)


async def test_curated_store_round_trip(db_engine: AsyncEngine) -> None:
    store = CuratedStore(Database(db_engine, 10.0))
    first, created = await store.put(make("a1", "Kapan deadline tugas 1?"))
    assert created and first.references[0]["page"] == 3 and first.material_hashes == {"m1": "abc"}
    again, created = await store.put(make("a2", "kapan deadline tugas 1", updated_by="asisten"))
    assert not created and again.id == "a1" and again.answer == "answer a2"
    assert again.created_by == "dosen" and again.updated_by == "asisten"
    await store.put(
        make("b1", "Kapan deadline tugas 1?", course="c2")
    )  # same question, other course
    assert [r.id for r in await store.for_course("c1")] == ["a1"]
    assert await store.get("c2", "a1") is None

    await store.put(make("a3", "Apakah ujian open book?"))
    await store.flag("c1", "a3", "material 'm1' was changed")
    assert [r.id for r in await store.for_course("c1", "active")] == ["a1"]
    flagged = await store.get("c1", "a3")
    assert flagged is not None and flagged.status == "needs_review"

    await store.set_vector("a3", [0.5, 0.5, 0.5], "other-model")
    renamed = make("a3", "Apakah UAS open book?", answer="ya")
    replaced = await store.replace(renamed)
    assert replaced is not None and replaced.status == "active" and replaced.answer == "ya"
    assert await store.replace(make("zz", "nothing")) is None
    with pytest.raises(IntegrityError):
        await store.replace(make("a3", "Kapan deadline tugas 1?"))  # another answer's question

    assert await store.delete("c2", "a1") is False
    assert await store.delete("c1", "a1") is True
    assert [r.id for r in await store.for_course("c1")] == ["a3"]
