"""Answer modes (course.yaml written at ingest, switched by a lecturer at run time) and the
page-context postprocessor on nodes retrieved from the real index."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from llama_index.core.vector_stores.types import MetadataFilters, VectorStoreQuery

from app.core.embeddings import LocalE5Embedding
from app.core.knowledge import build_vector_store
from app.core.redis import sync_client
from app.rag.page_context import PageContextPostprocessor
from app.services.lexical import normalize_question
from app.services.prompt import ANSWER_SYSTEM
from app.teaching.course_settings import (
    MODES_STALE_SECONDS,
    CourseSettingsStore,
    save_declared_modes,
)
from app.teaching.guided_prompt import GUIDED_SYSTEM, guided_system_prompt
from tests.conftest import SettingsFactory, Tutor
from tests.integration.teaching.helpers import COURSE, QUESTION, http, one_turn
from tests.support.ingest import ingest_paths
from tests.support.pdfs import make_pdf
from tests.support.scripted_openai import Reply
from tests.support.settings import REDIS_URL
from tests.support.slow_redis import slow_redis

pytestmark = pytest.mark.integration


async def test_course_yaml_modes_and_run_time_switches(
    tutor_factory: Callable[..., Tutor], make_settings: SettingsFactory, prefix: str, tmp_path: Path
) -> None:
    folder = tmp_path / "kursus"
    folder.mkdir()
    make_pdf(folder / "latihan.pdf", ["Latihan subnetting: hitung mask untuk 50 host. " * 6])
    make_pdf(folder / "modul.pdf", ["Subnet mask membagi alamat menjadi jaringan dan host. " * 6])
    (folder / "course.yaml").write_text(
        "answer_mode: direct\nmaterials:\n  - file: latihan.pdf\n    answer_mode: guided\n"
    )
    ingest_paths(make_settings(), "kursus", [folder])
    tutor = tutor_factory(key_prefix=prefix)
    with http(tutor) as lecturer:
        declared = lecturer.get("/courses/kursus/teaching-settings").json()
        assert declared["answer_mode"] == {
            "declared": "direct",
            "override": None,
            "effective": "direct",
        }
        assert declared["materials"] == [
            {
                "declared": "guided",
                "override": None,
                "effective": "guided",
                "material_id": "latihan",
            }
        ]
        switched = lecturer.patch(
            "/courses/kursus/teaching-settings",
            json={"answer_mode": "guided", "material_modes": {"modul": "direct"}},
        ).json()
        assert switched["answer_mode"]["effective"] == "guided"
        by_material = {m["material_id"]: m["effective"] for m in switched["materials"]}
        assert by_material == {"latihan": "guided", "modul": "direct"}

        client = aioredis.Redis.from_url(REDIS_URL)
        try:
            store = CourseSettingsStore(client, prefix, 5.0)
            assert await store.answer_mode("kursus", ["modul"]) == "direct"
            assert await store.answer_mode("kursus", []) == "guided"
            assert await store.answer_mode("kursus", ["modul", "latihan"]) == "guided"
            assert await store.answer_mode(None, ["latihan"]) == "direct"
            cleared = lecturer.patch(
                "/courses/kursus/teaching-settings",
                json={"answer_mode": None, "material_modes": {"modul": None}},
            ).json()
            assert cleared["answer_mode"] == {
                "declared": "direct",
                "override": None,
                "effective": "direct",
            }
            assert await store.answer_mode("kursus", ["modul"]) == "direct"
            assert await store.answer_mode("kursus", ["latihan"]) == "guided"
        finally:
            await client.aclose()
        ingest_paths(make_settings(), "kursus", [folder])  # re-ingest keeps a lecturer's switch
        lecturer.patch("/courses/kursus/teaching-settings", json={"answer_mode": "guided"})
        ingest_paths(make_settings(), "kursus", [folder])
        assert (
            lecturer.get("/courses/kursus/teaching-settings").json()["answer_mode"]["override"]
            == "guided"
        )

        invalid = lecturer.patch(
            "/courses/kursus/teaching-settings", json={"answer_mode": "socratic"}
        )
        assert invalid.status_code == 422
        assert lecturer.patch("/courses/unknown/teaching-settings", json={}).status_code == 404


GUIDED_REPLY = (
    "Petunjuk: mulai dari definisi di modul.\nPertanyaan: apa tujuan pengelolaan?\nBaca: hal. 3\n"
    + " ".join(["Jawaban: seluruh penyelesaian ditulis di sini."] * 12)
)
GUIDED_SHOWN = (
    "Petunjuk: mulai dari definisi di modul.\nPertanyaan: apa tujuan pengelolaan?\nBaca: hal. 3"
)
DIRECT = "Manajemen infrastruktur TI adalah kegiatan merencanakan dan memelihara TI (hal. 3)."


def _system(tutor: Tutor, index: int = -1) -> str:
    return str(tutor.llm.chat_requests[index]["messages"][0]["content"])


async def _cancelled(tutor: Tutor, expected: int) -> int:
    for _ in range(50):  # the scripted server sees the closed stream a moment later
        if tutor.llm.cancelled >= expected:
            break
        await asyncio.sleep(0.05)
    return tutor.llm.cancelled


async def test_guided_course_sends_the_guided_system_prompt(tutor: Tutor) -> None:
    tutor.llm.script(Reply.from_text(DIRECT))
    direct = await one_turn(tutor, QUESTION, user="g0")
    assert direct["response"] == DIRECT and _system(tutor).startswith(ANSWER_SYSTEM[:60])
    with http(tutor) as lecturer:
        lecturer.patch(f"/courses/{COURSE}/teaching-settings", json={"answer_mode": "guided"})
    try:
        tutor.llm.script(Reply.from_text(GUIDED_REPLY, delay_s=0.01))
        guided = await one_turn(tutor, QUESTION, user="g1")
        system = _system(tutor)
        assert system.startswith(GUIDED_SYSTEM.split("{")[0][:60]), json.dumps(system)[:200]
        assert system == guided_system_prompt("id")
        # the same user message (sources and question) in both modes: only the system differs
        assert (
            tutor.llm.chat_requests[0]["messages"][1] == tutor.llm.chat_requests[1]["messages"][1]
        )
        # a direct answer is never served in guided mode; the reply ends after its page line
        assert guided["cached"] is False and guided["response"] == GUIDED_SHOWN
        assert guided["response_source"] == "rag" and guided["sources"]
        assert await _cancelled(tutor, 1) == 1  # the LLM call was closed there, not read to the end
        again = await one_turn(tutor, QUESTION, user="g2")
        assert again["cached"] is True and again["response"] == GUIDED_SHOWN
    finally:
        with http(tutor) as lecturer:
            lecturer.patch(f"/courses/{COURSE}/teaching-settings", json={"answer_mode": None})
    back = await one_turn(tutor, QUESTION, user="g3")
    assert back["cached"] is True and back["response"] == DIRECT  # direct again: its own entry
    assert len(tutor.llm.chat_requests) == 2
    not_covered = await one_turn(tutor, "Siapa pemenang piala dunia sepak bola 2018?", user="g4")
    assert not_covered["response_source"] == "not_covered" and len(tutor.llm.chat_requests) == 2


async def test_a_guided_material_makes_the_answers_drawing_on_it_guided(tutor: Tutor) -> None:
    planning = "modul_perencanaan_07"
    bandwidth = "Bagaimana cara menghitung kebutuhan bandwidth?"  # sources: module 7 only
    data_centre = "Apa itu pusat data?"  # sources: module 6 only
    tutor.llm.script(Reply.from_text("Bandwidth = pengguna x kebutuhan (hal. 12)."))
    before = await one_turn(tutor, bandwidth, user="m1")
    assert {s["metadata"]["material_id"] for s in before["sources"]} == {planning}
    with http(tutor) as lecturer:
        switched = lecturer.patch(
            f"/courses/{COURSE}/teaching-settings", json={"material_modes": {planning: "guided"}}
        )
        assert switched.json()["answer_mode"]["effective"] == "direct"
    try:
        tutor.llm.script(Reply.from_text(GUIDED_REPLY))
        guided = await one_turn(tutor, bandwidth, user="m2")
        # the cached direct answer drew on a material that is guided now: not served
        assert guided["cached"] is False and _system(tutor) == guided_system_prompt("id")
        tutor.llm.script(Reply.from_text(DIRECT), Reply.from_text(GUIDED_REPLY))
        other = await one_turn(tutor, data_centre, user="m3")
        assert other["response"] == DIRECT and _system(tutor).startswith(ANSWER_SYSTEM[:60])
        # the same question with a page of the guided material open: guided
        opened = await one_turn(tutor, data_centre, user="m4", material_id=planning, page=3)
        assert opened["cached"] is False and _system(tutor) == guided_system_prompt("id")
        assert opened["response"] == GUIDED_SHOWN
    finally:
        with http(tutor) as lecturer:
            lecturer.patch(
                f"/courses/{COURSE}/teaching-settings", json={"material_modes": {planning: None}}
            )


async def test_page_context_changes_the_ranking_and_never_leaves_the_course(
    tutor: Tutor,
) -> None:
    tutor.llm.default = Reply.from_text(DIRECT)
    plain = await one_turn(tutor, QUESTION, user="pc1")
    first = plain["sources"][0]["metadata"]
    # the best-ranked source that the open page of the first could not have lifted
    target = next(
        s["metadata"]
        for s in plain["sources"][1:]
        if s["metadata"]["material_id"] != first["material_id"]
        or abs(s["metadata"]["page_number"] - first["page_number"]) > 2
    )
    opened = {"material_id": target["material_id"], "page": target["page_number"]}
    steered = await one_turn(tutor, QUESTION, user="pc2", **opened)
    top = steered["sources"][0]["metadata"]
    assert (top["material_id"], top["page_number"]) == (opened["material_id"], opened["page"])
    assert steered["cached"] is False  # another open page is another cache scope
    assert {s["metadata"]["course_id"] for s in steered["sources"]} == {COURSE}
    # a material of another course (or none of this one) is dropped, as if no page were open:
    # the same sources, and the answer cached without page context is served
    for foreign in ("net_basics_01", "no_such_material"):
        other = await one_turn(tutor, QUESTION, user="pc3", material_id=foreign, page=1)
        assert other["sources"] == plain["sources"] and other["cached"] is True
    assert len(tutor.llm.chat_requests) == 2


async def test_page_context_reorders_nodes_from_the_real_index(tutor: Tutor) -> None:
    client = sync_client(REDIS_URL, 5.0)
    try:
        store = build_vector_store(tutor.settings, client)
        vector = LocalE5Embedding().get_query_embedding(
            normalize_question("Apa itu infrastruktur TI?")
        )
        filters = MetadataFilters.from_dicts([{"key": "course_id", "value": COURSE}])
        result = store.query(
            VectorStoreQuery(query_embedding=vector, similarity_top_k=8, filters=filters)
        )
    finally:
        client.close()
    from llama_index.core.schema import NodeWithScore

    nodes = [
        NodeWithScore(node=n, score=s)
        for n, s in zip(result.nodes or [], result.similarities or [], strict=True)
    ]
    assert len({n.node.metadata["material_id"] for n in nodes}) == 2  # both modules compete
    last = nodes[-1]
    material, page = str(last.node.metadata["material_id"]), int(last.node.metadata["page"])
    moved = PageContextPostprocessor(material_id=material, page=page, page_bonus=0.2)
    reordered = moved.postprocess_nodes(list(nodes))
    assert reordered[0].node.node_id == last.node.node_id
    assert sorted(n.node.node_id for n in reordered) == sorted(n.node.node_id for n in nodes)
    others = [n.node.node_id for n in reordered if n.node.metadata["material_id"] != material]
    assert others == [n.node.node_id for n in nodes if n.node.metadata["material_id"] != material]
    untouched = PageContextPostprocessor(material_id="not_in_this_course", page=1)
    assert [n.node.node_id for n in untouched.postprocess_nodes(list(nodes))] == [
        n.node.node_id for n in nodes
    ]


async def test_a_slow_modes_read_uses_the_modes_read_within_a_minute(prefix: str) -> None:
    """Redis up but slow (every reply held back past the timeout): a turn takes the modes this
    worker read for the course shortly before; with none that recent the read still fails."""
    with sync_client(REDIS_URL, 5) as sync:
        save_declared_modes(sync, prefix, "lambat", "guided", {})
    now = [1000.0]
    async with slow_redis(REDIS_URL) as (proxy, url):
        client = aioredis.Redis.from_url(url, socket_timeout=5)
        try:
            store = CourseSettingsStore(client, prefix, 0.3, clock=lambda: now[0])
            assert await store.answer_mode("lambat", []) == "guided"
            proxy.delay = 0.6
            now[0] += MODES_STALE_SECONDS
            assert await store.answer_mode("lambat", []) == "guided"  # read a minute ago
            with pytest.raises(TimeoutError):  # never read here before
                await store.answer_mode("lain", [])
            now[0] += 1.0
            with pytest.raises(TimeoutError):  # read more than a minute ago
                await store.answer_mode("lambat", [])
        finally:
            await client.aclose()
