"""Topic clustering and labels on real question embeddings; the digest escapes what students wrote."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from app.core.embeddings import LocalE5Embedding
from app.services.lexical import normalize_question
from app.teaching import digest
from app.teaching.digest_sender import last_slot
from app.teaching.insight_models import ContentGap, CourseInsights, RatedAnswer, Topic, Totals
from app.teaching.topics import cluster_vectors, keywords, topics

QUESTIONS = [
    "Apa itu VLAN?",
    "Jelaskan pengertian VLAN",
    "What is a VLAN?",
    "Apa fungsi router?",
    "Router berfungsi untuk apa?",
    "Kapan deadline tugas 3?",
]


def test_paraphrases_share_a_topic_and_unrelated_questions_do_not() -> None:
    model = LocalE5Embedding()
    vectors = np.array(
        [model.get_query_embedding(normalize_question(q)) for q in QUESTIONS], dtype=np.float32
    )
    clusters = topics(QUESTIONS, vectors, 0.12)
    groups = [sorted(QUESTIONS[i] for i in c.members) for c in clusters]
    assert sorted(["Apa itu VLAN?", "Jelaskan pengertian VLAN", "What is a VLAN?"]) in groups
    assert sorted(["Apa fungsi router?", "Router berfungsi untuk apa?"]) in groups
    assert ["Kapan deadline tugas 3?"] in groups
    assert clusters[0].keywords[0] == "vlan" and "router" in clusters[1].keywords


def test_cluster_edges() -> None:
    assert cluster_vectors(np.zeros((0, 4), dtype=np.float32), 0.1) == []
    assert cluster_vectors(np.ones((1, 4), dtype=np.float32), 0.1) == [[0]]
    same = np.array([[1, 0], [1, 0.01], [0, 1]], dtype=np.float32)
    assert cluster_vectors(same, 0.05) == [[0, 1], [2]] or cluster_vectors(same, 0.05) == [
        [1, 0],
        [2],
    ]
    assert keywords([["router router switch"], ["switch hub"]]) == [
        ["router", "switch"],
        ["hub", "switch"],
    ]


def test_weekly_slot() -> None:
    wednesday = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    assert last_slot(wednesday, 0, 6) == datetime(2026, 11, 23, 6, tzinfo=UTC)
    assert last_slot(wednesday, 2, 6) == datetime(2026, 11, 25, 6, tzinfo=UTC)
    assert last_slot(wednesday, 2, 11) == datetime(2026, 11, 18, 11, tzinfo=UTC)


def test_digest_escapes_student_text() -> None:
    now = datetime(2026, 11, 30, tzinfo=UTC)
    evil = "<script>alert(1)</script> [klik](http://x) # judul"
    insights = CourseInsights(
        course_id="c1",
        start=now,
        end=now,
        generated_at=now,
        totals=Totals(
            questions=3, students=2, answered=1, not_covered=1, from_cache=0, curated=0,
            failed=0, upvotes=0, downvotes=1, cost_usd=0.0, median_latency_ms=10.0,
        ),
        topics=[Topic(label="vlan", keywords=["vlan"], questions=2, students=2, share=0.6, examples=[evil])],
        other_questions=1,
        content_gaps=[ContentGap(question=evil, count=2, students=1, examples=[evil], last_asked=now)],
        downvoted=[
            RatedAnswer(
                turn_id="t", question=evil, answer="a", comment=evil, response_source="rag",
                rated_at=now, cache_entry=False, student=None,
            )
        ],
        top_pages=[],
        students=None,
        truncated=False,
    )  # fmt: skip
    page = digest.html_page(insights)
    assert "<script>" not in page and "&lt;script&gt;" in page
    text = digest.markdown(insights)
    assert "[klik](http://x)" not in text and "\\[klik\\]\\(http://x\\)" in text
    assert "Questions the material did not cover" in text and "(2×, 1 students)" in text
