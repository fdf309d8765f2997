"""A token with several courses, asked without a ``course_id``: the token's courses, never more.

Three small courses on one topic (each page names its own course), ingested under a fresh prefix;
the real server in ``AUTH_MODE=token`` with the semantic cache on. A student of A and B gets
sources of A and B and never of C; a student of A alone gets A only; an answer cached for the
scope {A, B} is never served to a student of A alone, and the other way round.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import websockets

from tests.conftest import drop_prefix
from tests.support.auth import SECRET, mint
from tests.support.client import Turn, ask, recv, stream_url
from tests.support.ingest import ingest_paths
from tests.support.pdfs import make_pdf
from tests.support.scripted_openai import Reply, ScriptedOpenAI
from tests.support.settings import REDIS_URL, isolated_settings
from tests.support.tutor import serve_tutor

pytestmark = pytest.mark.integration
A, B, C = "router_a", "router_b", "router_c"
QUESTION = "Apa fungsi router dalam meneruskan paket antar jaringan?"
PAGES = {
    course: [
        f"Kursus {course}. Router meneruskan paket antar jaringan berdasarkan alamat IP tujuan; "
        f"tabel routing {course} menentukan jalur paket ke jaringan berikutnya.",
        f"Kursus {course}. Router memilih jalur terbaik dan meneruskan paket data antar "
        "jaringan yang berbeda, misalnya dari LAN ke internet.",
    ]
    for course in (A, B, C)
}


@pytest.fixture(scope="module")
def three_courses(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    prefix = f"tc{uuid.uuid4().hex[:10]}"
    root = tmp_path_factory.mktemp("three-courses")
    settings = isolated_settings(prefix, root / "data")
    for course, pages in PAGES.items():
        folder = root / course
        make_pdf(folder / f"{course}.pdf", pages)
        ingest_paths(settings, course, [folder], ocr=False)
    yield prefix
    drop_prefix(REDIS_URL, prefix)


@pytest.fixture(scope="module")
def server(
    three_courses: str, scripted_server: ScriptedOpenAI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    with serve_tutor(
        three_courses,
        scripted_server,
        tmp_path_factory.mktemp("course-sets"),
        auth_mode="token",
        auth_jwt_secret=SECRET,
        cache_enabled=True,
        rag_top_k=6,
        rate_limit_requests=0,
        rate_limit_ip_requests=0,
    ) as (url, _settings):
        yield url


async def turn(url: str, token: str, text: str, **params: str) -> tuple[dict[str, Any], Turn]:
    headers = {"Authorization": f"Bearer {token}"}
    async with websockets.connect(stream_url(url, **params), additional_headers=headers) as ws:
        hello = await recv(ws)
        assert hello["type"] == "connection", hello
        return hello, await ask(ws, text)


def source_courses(result: Turn) -> set[str]:
    final = result.final
    assert final["type"] == "chat_response", final
    return {s["metadata"]["course_id"] for s in final["sources"]}


async def test_an_omitted_course_means_the_tokens_courses(
    server: str, scripted_server: ScriptedOpenAI
) -> None:
    scripted_server.reset()
    scripted_server.default = Reply.from_text("Router meneruskan paket antar jaringan.")
    both = mint("student-ab", courses=[A, B])
    hello, answered = await turn(server, both, QUESTION)
    assert hello["course_id"] is None  # several courses: none single to report
    assert source_courses(answered) == {A, B}  # both of the token's courses, and only those

    only_a = mint("student-a", courses=[A])
    hello, answered = await turn(server, only_a, "Bagaimana router memilih jalur terbaik?")
    assert hello["course_id"] == A
    assert source_courses(answered) == {A}

    named, answered = await turn(server, both, "Apa isi tabel routing?", course_id=B)
    assert named["course_id"] == B and source_courses(answered) == {B}

    # a course outside the token is still refused when named
    headers = {"Authorization": f"Bearer {both}"}
    async with websockets.connect(
        stream_url(server, course_id=C), additional_headers=headers
    ) as ws:
        frame = await recv(ws)
    assert frame["type"] == "error" and frame["error_code"] == "FORBIDDEN"


async def test_an_answer_cached_for_a_course_set_is_never_served_to_a_narrower_scope(
    server: str, scripted_server: ScriptedOpenAI
) -> None:
    scripted_server.reset()
    question = "Sebutkan contoh jaringan yang dihubungkan router, misalnya LAN?"
    scripted_server.default = Reply.from_text("Jawaban untuk kursus A dan B: LAN ke internet.")
    both = mint("student-ab2", courses=[A, B])
    _, first = await turn(server, both, question)
    assert first.final["cached"] is False and source_courses(first) <= {A, B}
    _, again = await turn(server, mint("student-ab3", courses=[B, A]), question)
    assert again.final["cached"] is True  # the same set, in any order: the same scope

    scripted_server.default = Reply.from_text("Jawaban untuk kursus A saja.")
    _, narrow = await turn(server, mint("student-a2", courses=[A]), question)
    assert narrow.final["cached"] is False
    assert "A dan B" not in narrow.final["response"] and source_courses(narrow) == {A}
    scripted_server.default = Reply.from_text("Jawaban untuk kursus A, B dan C.")
    _, wider = await turn(server, mint("student-abc", courses=[A, B, C]), question)
    assert wider.final["cached"] is False  # {A, B, C} is another scope too
    assert wider.final["response"] == "Jawaban untuk kursus A, B dan C."
