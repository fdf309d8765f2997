"""The HTTP side of the pages against the real server: courses, PDFs, rooms, stats, assets."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from app.api.stats import _scope
from app.auth.principal import Principal
from app.core.knowledge import KnowledgeKeys
from app.protocol.errors import ErrorCode, ProtocolError
from tests.conftest import SettingsFactory, Tutor
from tests.support.client import ask, connect
from tests.support.ingest import ingest_paths, writer_for
from tests.support.pdfs import make_pdf
from tests.support.scripted_openai import Reply

pytestmark = pytest.mark.integration
ME = {"X-User-Id": "api-student"}


def test_courses_list_titles_languages_and_page_counts(tutor: Tutor) -> None:
    assert httpx.get(f"{tutor.url}/courses").status_code == 401  # say who you are
    body = httpx.get(f"{tutor.url}/courses", headers=ME).json()
    courses = {c["course_id"]: c for c in body["courses"]}
    assert set(courses) == {"course_tik_01", "course_net_en_01"}
    tik = courses["course_tik_01"]
    assert tik["title"] == "Manajemen Infrastruktur Teknologi Informasi" and tik["language"] == "id"
    titles = {m["material_id"]: m for m in tik["materials"]}
    assert titles["modul_infrastruktur_06"]["title"] == "Modul 6: Manajemen Infrastruktur TI"
    assert all(m["pages"] > 0 and m["chunks"] > 0 and m["pdf_available"] for m in tik["materials"])


def test_material_pdf_is_served_with_cache_headers(tutor: Tutor) -> None:
    url = f"{tutor.url}/materials/course_tik_01/modul_infrastruktur_06.pdf"
    pdf = httpx.get(url, params={"user_id": "api-student"})
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["cache-control"] == "private, max-age=3600"
    assert pdf.headers["content-disposition"].startswith("inline")
    part = httpx.get(url, headers={**ME, "Range": "bytes=0-3"})  # PDF viewers fetch ranges
    assert part.status_code == 206 and part.content == b"%PDF"
    missing = httpx.get(f"{tutor.url}/materials/course_tik_01/nope.pdf", headers=ME)
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    assert httpx.get(f"{tutor.url}/materials/course_tik_01/..%2Fx.pdf", headers=ME).status_code in (
        404,
        422,
    )


def test_rooms_and_turns_are_the_callers_own(tutor: Tutor) -> None:
    tutor.llm.script(Reply.from_text("Infrastruktur TI mencakup perangkat keras dan jaringan."))

    async def chat() -> None:
        ws, _ = await connect(tutor.url, user_id="api-student", course_id="course_tik_01")
        turn = await ask(ws, "Apa itu infrastruktur TI?", chatroom_id="api-room")
        assert turn.final["type"] == "chat_response"
        await ws.close()

    asyncio.run(chat())
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        rooms = httpx.get(f"{tutor.url}/users/me/rooms", headers=ME).json()["rooms"]
        if rooms:
            break
        time.sleep(0.1)
    assert [r["chatroom_id"] for r in rooms] == ["api-room"]
    assert rooms[0]["title"] == "Apa itu infrastruktur TI?" and rooms[0]["turns"] == 1
    turns = httpx.get(f"{tutor.url}/rooms/api-room/turns", headers=ME).json()["turns"]
    assert turns[0]["answer"].startswith("Infrastruktur TI") and turns[0]["sources"]
    assert (
        turns[0]["first_chunk_ms"] is not None
        and 0 < turns[0]["first_chunk_ms"] <= turns[0]["latency_ms"]
    )
    other = {"X-User-Id": "someone-else"}
    assert httpx.get(f"{tutor.url}/users/me/rooms", headers=other).json()["rooms"] == []
    assert httpx.get(f"{tutor.url}/rooms/api-room/turns", headers=other).status_code == 404


def test_stats_validation_and_csv(tutor: Tutor) -> None:
    bad = httpx.get(
        f"{tutor.url}/api/stats", params={"from": "2026-02-02", "to": "2026-02-01"}, headers=ME
    )
    assert bad.status_code == 422 and "after" in bad.json()["detail"]
    wide = httpx.get(
        f"{tutor.url}/api/stats", params={"from": "2020-01-01", "to": "2026-01-01"}, headers=ME
    )
    assert wide.status_code == 422
    body = httpx.get(f"{tutor.url}/api/stats", headers=ME).json()
    assert body["totals"]["questions"] == 0 and body["connections_now"] == 0
    assert body["from"] <= body["to"]
    csv = httpx.get(
        f"{tutor.url}/api/stats", params={"format": "csv", "table": "models"}, headers=ME
    )
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0] == "model,turns,input_tokens,output_tokens,cost_usd"


def test_connections_now_counts_the_reports_course(tutor: Tutor) -> None:
    async def count_while_open() -> dict[str, int]:
        sockets = [
            (await connect(tutor.url, user_id=f"conn{i}", course_id=course))[0]
            for i, course in enumerate(["course_tik_01", "course_tik_01", "course_net_en_01"])
        ]
        try:
            counts = {}
            async with httpx.AsyncClient(timeout=10) as http:
                for course in ("course_tik_01", "course_net_en_01", ""):
                    body = (
                        await http.get(
                            f"{tutor.url}/api/stats", params={"course_id": course}, headers=ME
                        )
                    ).json()
                    counts[course or "all"] = body["connections_now"]
            return counts
        finally:
            for ws in sockets:
                await ws.close()

    assert asyncio.run(count_while_open()) == {"course_tik_01": 2, "course_net_en_01": 1, "all": 3}


def test_only_staff_see_stats() -> None:
    student = Principal("s1", "student", frozenset({"course_a"}))
    staff_a = Principal("l1", "staff", frozenset({"course_a"}))
    for principal, course in ((student, "course_a"), (student, None), (staff_a, "course_b")):
        with pytest.raises(ProtocolError) as refused:
            _scope(principal, course)
        assert refused.value.code is ErrorCode.FORBIDDEN
    assert _scope(staff_a, "course_a") == frozenset({"course_a"})
    assert _scope(staff_a, None) == frozenset({"course_a"})  # overall = the courses they teach
    assert _scope(Principal.unauthenticated("x"), None) is None  # AUTH_MODE=none: everything


def test_pages_and_assets_headers(tutor: Tutor) -> None:
    page = httpx.get(f"{tutor.url}/")
    assert page.status_code == 200 and 'data-testid="course-select"' in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-cache"
    assert httpx.get(f"{tutor.url}/dashboard").status_code == 200
    vendor = httpx.get(f"{tutor.url}/static/vendor/marked-18.2.1/marked.esm.js")
    assert vendor.headers["cache-control"] == "public, max-age=31536000, immutable"
    own = httpx.get(f"{tutor.url}/static/js/chat.js")
    assert own.headers["cache-control"] == "no-cache" and own.headers.get("etag")
    again = httpx.get(
        f"{tutor.url}/static/js/chat.js", headers={"If-None-Match": own.headers["etag"]}
    )
    assert again.status_code == 304
    widget = httpx.get(f"{tutor.url}/widget.js")
    assert (
        widget.headers["content-type"].startswith("text/javascript")
        and "CourseTutor" in widget.text
    )
    me = httpx.get(f"{tutor.url}/auth/me", headers=ME).json()
    assert me["auth_mode"] == "none" and me["user_id"] == "api-student"


def test_reingest_describes_files_ingested_before_titles_were_kept(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    settings = make_settings()
    folder = tmp_path / "course_old"
    make_pdf(folder / "bab1.pdf", ["Jaringan komputer menghubungkan perangkat."])
    (folder / "course.yaml").write_text(
        "title: Jaringan Dasar\nlanguage: id\nmaterials:\n  - file: bab1.pdf\n    title: Bab 1\n"
    )
    ingest_paths(settings, "course_old", [folder])
    writer, client = writer_for(settings)
    try:
        record = writer.records("course_old")["bab1.pdf"]
        assert record.title == "Bab 1" and Path(record.path) == (folder / "bab1.pdf").resolve()
        # a record written by an older ingest: no title, no path
        client.hset(
            KnowledgeKeys.from_settings(settings).files("course_old"),
            "bab1.pdf",
            record.to_json().replace('"title": "Bab 1"', '"title": ""').replace(record.path, ""),
        )
        results = ingest_paths(settings, "course_old", [folder])
        assert [r.action for r in results] == ["unchanged"]  # no re-embedding
        assert writer.records("course_old")["bab1.pdf"] == record
        assert (
            client.get(KnowledgeKeys.from_settings(settings).course_meta("course_old")) is not None
        )
        writer.drop_course("course_old")
        assert client.get(KnowledgeKeys.from_settings(settings).course_meta("course_old")) is None
    finally:
        client.close()
