"""Curated answers through the real server: write, match a paraphrase in the right course only,
turn a good answer into a curated one, and flag answers whose material changed."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from tests.conftest import SettingsFactory, Tutor
from tests.integration.teaching.helpers import COURSE, cache_keys, http, one_turn
from tests.support.client import ask, connect
from tests.support.ingest import ingest_paths
from tests.support.pdfs import make_pdf
from tests.support.scripted_openai import Reply
from tests.support.settings import REDIS_URL

pytestmark = pytest.mark.integration

CURATED_Q = "Apa perbedaan server fisik dan server virtual?"
PARAPHRASE = "Jelaskan perbedaan antara server fisik dan virtual"  # distance .005 (e5-small)
CURATED_A = "Server fisik adalah satu mesin; server virtual berbagi mesin lewat hypervisor."
MATERIAL = "modul_infrastruktur_06"


def test_write_edit_delete_and_match_only_within_the_course(tutor: Tutor) -> None:
    body = {
        "question": CURATED_Q,
        "answer": CURATED_A,
        "references": [{"material_id": MATERIAL, "page": 1}],
    }
    with http(tutor) as lecturer:
        created = lecturer.put(f"/courses/{COURSE}/answers", json=body)
        assert created.status_code == 201, created.text
        answer = created.json()
        [ref] = answer["references"]
        assert (
            ref["material_id"] == MATERIAL and ref["page"] == 1 and ref["filename"].endswith(".pdf")
        )
        assert ref["page_label"] and ref["excerpt"] and answer["status"] == "active"
        again = lecturer.put(
            f"/courses/{COURSE}/answers",
            json={
                **body,
                "question": " apa perbedaan server fisik dan server virtual ",
                "answer": "v2",
            },
        )
        assert again.status_code == 200 and again.json()["id"] == answer["id"]
        assert again.json()["answer"] == "v2"

        for bad, code in (
            ({**body, "references": [{"material_id": "net_basics_01", "page": 1}]}, 422),
            ({**body, "references": [{"material_id": MATERIAL, "page": 999}]}, 422),
            ({"question": "", "answer": "x"}, 422),
        ):
            response = lecturer.put(f"/courses/{COURSE}/answers", json=bad)
            assert response.status_code == code, response.text
        assert (
            "not part of course"
            in lecturer.put(
                f"/courses/{COURSE}/answers", json={**body, "references": [{"material_id": "nope"}]}
            ).json()["detail"]
        )
        assert lecturer.put("/courses/no_such_course/answers", json=body).status_code == 404

        matched = lecturer.post(
            f"/courses/{COURSE}/answers/match", json={"question": PARAPHRASE}
        ).json()
        assert (
            matched["matched"]["id"] == answer["id"] and matched["distance"] <= matched["threshold"]
        )
        unrelated = lecturer.post(
            f"/courses/{COURSE}/answers/match",
            json={"question": "Apa itu rencana pemulihan bencana?"},
        ).json()
        assert unrelated["matched"] is None
        other_course = lecturer.post(
            "/courses/course_net_en_01/answers/match", json={"question": CURATED_Q}
        ).json()
        assert other_course["matched"] is None  # never another course's answer
        assert lecturer.get("/courses/course_net_en_01/answers").json() == []

        edited = lecturer.patch(
            f"/courses/{COURSE}/answers/{answer['id']}", json={"answer": CURATED_A}
        )
        assert edited.status_code == 200 and edited.json()["answer"] == CURATED_A
        assert edited.json()["references"][0]["page"] == 1
        assert [a["id"] for a in lecturer.get(f"/courses/{COURSE}/answers").json()] == [
            answer["id"]
        ]
        assert lecturer.get(f"/courses/course_net_en_01/answers/{answer['id']}").status_code == 404
        assert (
            lecturer.delete(f"/courses/course_net_en_01/answers/{answer['id']}").status_code == 404
        )
        assert lecturer.delete(f"/courses/{COURSE}/answers/{answer['id']}").status_code == 204
        assert lecturer.get(f"/courses/{COURSE}/answers/{answer['id']}").status_code == 404
        gone = lecturer.post(
            f"/courses/{COURSE}/answers/match", json={"question": CURATED_Q}
        ).json()
        assert gone["matched"] is None


async def test_a_good_answer_becomes_a_curated_one(tutor: Tutor) -> None:
    good = "Manajemen infrastruktur TI mengelola perangkat, jaringan dan layanan TI (hal. 1)."
    tutor.llm.script(Reply.from_text(good))
    final = await one_turn(tutor, "Apa itu manajemen infrastruktur TI?", user="s7")
    turn_id = final["metadata"]["turn_id"]
    cited = {(s["metadata"]["material_id"], s["metadata"]["page_number"]) for s in final["sources"]}
    with http(tutor) as lecturer:
        wrong_course = lecturer.post(f"/courses/course_net_en_01/answers/from-turn/{turn_id}")
        assert wrong_course.status_code == 404
        made = lecturer.post(f"/courses/{COURSE}/answers/from-turn/{turn_id}")
        assert made.status_code == 201, made.text
        curated = made.json()
        assert curated["answer"] == good and curated["source_turn_id"] == turn_id
        assert {(r["material_id"], r["page"]) for r in curated["references"]} == cited
        edited = lecturer.post(
            f"/courses/{COURSE}/answers/from-turn/{turn_id}", json={"answer": "Versi dosen."}
        )
        assert edited.json()["id"] == curated["id"] and edited.json()["answer"] == "Versi dosen."
        probe = lecturer.post(
            f"/courses/{COURSE}/answers/match",
            json={"question": "apa itu manajemen infrastruktur TI"},
        ).json()
        assert probe["matched"]["id"] == curated["id"]
        assert lecturer.delete(f"/courses/{COURSE}/answers/{curated['id']}").status_code == 204


async def test_answers_are_flagged_when_their_material_changes(
    tutor_factory: Callable[..., Tutor], make_settings: SettingsFactory, prefix: str, tmp_path: Path
) -> None:
    folder = tmp_path / "kursus"
    folder.mkdir()
    make_pdf(
        folder / "modul.pdf",
        ["Server virtual berjalan di atas hypervisor. " * 8, "Halaman dua. " * 8],
    )
    settings = make_settings()
    ingest_paths(settings, "kursus", [folder])
    tutor = tutor_factory(key_prefix=prefix)
    body = {
        "question": CURATED_Q,
        "answer": CURATED_A,
        "references": [{"material_id": "modul", "page": 2}],
    }
    with http(tutor) as lecturer:
        answer = lecturer.put("/courses/kursus/answers", json=body).json()
        assert answer["status"] == "active"
        assert lecturer.post("/courses/kursus/answers/match", json={"question": PARAPHRASE}).json()[
            "matched"
        ]

        make_pdf(
            folder / "modul.pdf", ["Isi baru modul. " * 8, "Halaman dua yang diperbarui. " * 8]
        )
        ingest_paths(settings, "kursus", [folder])  # re-ingest: the curated answer survives it

        [flagged] = lecturer.get("/courses/kursus/answers").json()
        assert flagged["id"] == answer["id"] and flagged["status"] == "needs_review"
        assert "material 'modul' was changed" in flagged["review_reason"]
        not_served = lecturer.post("/courses/kursus/answers/match", json={"question": PARAPHRASE})
        assert not_served.json()["matched"] is None

        reviewed = lecturer.patch(
            f"/courses/kursus/answers/{answer['id']}", json={"reviewed": True}
        )
        assert reviewed.json()["status"] == "active" and reviewed.json()["review_reason"] is None
        assert "diperbarui" in reviewed.json()["references"][0]["excerpt"]
        served = lecturer.post(
            "/courses/kursus/answers/match", json={"question": PARAPHRASE}
        ).json()
        assert served["matched"]["id"] == answer["id"]


async def test_a_paraphrase_gets_the_curated_answer_over_the_socket(tutor: Tutor) -> None:
    body = {
        "question": CURATED_Q,
        "answer": CURATED_A,
        "references": [{"material_id": MATERIAL, "page": 1}],
    }
    with http(tutor) as lecturer:
        created = lecturer.put(f"/courses/{COURSE}/answers", json=body)
        assert created.status_code == 201
        [reference] = created.json()["references"]
        assert lecturer.put("/users/s8/profile", json={"level": "pemula"}).status_code == 200
    ws, _ = await connect(tutor.url, user_id="s8", course_id=COURSE)
    async with ws:
        # personalization asked for: a lecturer's answer is still served as written
        turn = await ask(ws, PARAPHRASE, use_personalization=True)
    final = turn.final
    assert final["response_source"] == "curated" and final["response"] == CURATED_A, json.dumps(
        final
    )[:300]
    assert "".join(c["chunk"] for c in turn.chunks) == CURATED_A  # streamed like any answer
    meta = final["metadata"]
    assert (meta["source_type"], meta["response_type"]) == ("curated_answer", "curated_response")
    assert final["cached"] is False and meta["personalized"] is False
    assert meta["model_used"] is None and final["token_usage"]["total_tokens"] == 0
    [source] = final["sources"]
    cited = source["metadata"]
    assert cited["material_id"] == MATERIAL and cited["course_id"] == COURSE
    assert cited["page_number"] == 1 and cited["page_label"] == reference["page_label"]
    assert cited["chunk_type"] == "curated_reference" and source["content"] == reference["excerpt"]
    assert cited["vector_distance"] <= 0.03 and cited["filename"] == reference["filename"]
    laps = meta["timings_ms"]
    assert "curated" in laps and not {"cache", "retrieval", "llm_first_token"} & set(laps)
    assert tutor.llm.chat_requests == [] and cache_keys(tutor) == []  # no LLM call, no cache entry

    # the same question in another course: that course's own answer, never this curated one
    tutor.llm.default = Reply.from_text("The material covers servers on page 2.")
    other = await one_turn(tutor, CURATED_Q, user="s9", course="course_net_en_01")
    assert other["response_source"] != "curated" and other["response"] != CURATED_A


async def test_the_turn_goes_on_when_curated_answers_cannot_be_read(tutor: Tutor) -> None:
    body = {"question": CURATED_Q, "answer": CURATED_A, "references": []}
    with http(tutor) as lecturer:
        assert lecturer.put(f"/courses/{COURSE}/answers", json=body).status_code == 201
    broken = redis.Redis.from_url(REDIS_URL)
    version_key = f"{tutor.settings.key_prefix}:curated:version:{COURSE}"
    try:
        broken.delete(version_key)
        broken.rpush(version_key, "not a version")  # every read of it now fails (WRONGTYPE)
        fresh = "Server virtual berjalan di atas hypervisor (hal. 11)."
        tutor.llm.script(Reply.from_text(fresh))
        final = await one_turn(tutor, PARAPHRASE, user="s10")
        assert final["response_source"] == "rag" and final["response"] == fresh
    finally:
        broken.delete(version_key)
        broken.close()
    # readable again: served again
    assert (await one_turn(tutor, PARAPHRASE, user="s11"))["response_source"] == "curated"
