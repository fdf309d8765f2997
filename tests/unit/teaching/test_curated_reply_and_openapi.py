"""A curated match becomes the turn's text and sources; the teaching endpoints are in OpenAPI."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from app.db.curated_store import CuratedRecord
from app.main import create_app
from app.protocol.messages import Source
from app.teaching.curated_reply import curated_answer
from app.teaching.matcher import CuratedMatch, numbers_agree
from app.ws.sources import to_sources
from tests.support.settings import isolated_settings


def record(references: list[dict[str, object]]) -> CuratedRecord:
    now = datetime(2026, 11, 30, tzinfo=UTC)
    return CuratedRecord(
        id="a1", course_id="c1", question="Kapan deadline tugas 1?", question_key="k",
        answer="Hari Jumat pukul 23.59 (lihat hal. iv).", references=references,
        material_hashes={}, status="active", review_reason=None, vector=None, vector_model=None,
        source_turn_id=None, created_by="dosen", updated_by="dosen", created_at=now, updated_at=now,
    )  # fmt: skip


def test_curated_reply_streams_the_lecturers_text_with_the_referenced_pages_as_sources() -> None:
    ref = {
        "material_id": "modul_6", "filename": "modul6.pdf", "title": "Modul 6", "page": 4,
        "page_label": "iv", "position": 2, "excerpt": "Jadwal tugas ...",
    }  # fmt: skip
    whole_material = {"material_id": "silabus", "filename": "silabus.pdf", "title": "Silabus"}
    answer = curated_answer(CuratedMatch(record([ref, whole_material]), 0.0123), 0.03)
    assert answer.text == "Hari Jumat pukul 23.59 (lihat hal. iv)." and answer.source == "curated"
    assert answer.threshold == 0.03 and answer.model is None and answer.usage == ()
    assert not answer.grounded and not answer.personalizable  # never cached, never rewritten
    first, second = to_sources(answer.nodes)  # the one node → wire mapping, as for any answer
    Source.model_validate(first.model_dump())
    meta = first.metadata
    assert (meta.material_id, meta.course_id, meta.filename, meta.page) == (
        "modul_6", "c1", "modul6.pdf", "iv.2",
    )  # fmt: skip
    assert (meta.page_label, meta.page_number, meta.title) == ("iv", 4, "Modul 6")
    assert meta.vector_distance == 0.0123 and meta.score == 0.9877
    assert meta.chunk_type == "curated_reference" and first.content == "Jadwal tugas ..."
    assert second.metadata.page == "" and second.metadata.page_number == 0
    assert second.metadata.page_label == "" and second.metadata.title == "Silabus"


def test_numbers_must_agree() -> None:
    assert numbers_agree("deadline tugas 1 kapan", "Kapan deadline tugas 1?")
    assert not numbers_agree("deadline tugas 2 kapan", "Kapan deadline tugas 1?")
    assert not numbers_agree("cara kumpul tugas 1", "Bagaimana cara mengumpulkan tugas?")
    assert numbers_agree("apa itu vlan", "What is a VLAN?")


def test_teaching_endpoints_are_in_the_openapi_document(tmp_path: Path) -> None:
    schema = create_app(isolated_settings("openapi", tmp_path)).openapi()
    paths = schema["paths"]
    expected = {
        "/turns/{turn_id}/feedback": {"post"},
        "/courses/{course_id}/reviews": {"get"},
        "/courses/{course_id}/reviews/{entry_id}/restore": {"post"},
        "/courses/{course_id}/reviews/{entry_id}": {"delete"},
        "/courses/{course_id}/answers": {"put", "get"},
        "/courses/{course_id}/answers/{answer_id}": {"get", "patch", "delete"},
        "/courses/{course_id}/answers/match": {"post"},
        "/courses/{course_id}/answers/from-turn/{turn_id}": {"post"},
        "/courses/{course_id}/insights": {"get"},
        "/courses/{course_id}/digest": {"get"},
        "/courses/{course_id}/digest/send": {"post"},
        "/courses/{course_id}/teaching-settings": {"get", "patch"},
        "/courses/{course_id}/turns": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
    insights = paths["/courses/{course_id}/insights"]["get"]
    ok = insights["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/CourseInsights"}
    assert {p["name"] for p in insights["parameters"]} >= {"course_id", "from", "to"}
    assert "CuratedAnswer" in schema["components"]["schemas"]
