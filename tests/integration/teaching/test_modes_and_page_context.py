"""Answer modes (course.yaml written at ingest, switched by a lecturer at run time) and the
page-context postprocessor on nodes retrieved from the real index."""

from __future__ import annotations

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
from app.teaching.course_settings import CourseSettingsStore
from app.teaching.guided_prompt import GUIDED_SYSTEM
from tests.conftest import SettingsFactory, Tutor
from tests.integration.teaching.helpers import COURSE, http
from tests.support.client import ask, connect
from tests.support.ingest import ingest_paths
from tests.support.pdfs import make_pdf
from tests.support.scripted_openai import Reply
from tests.support.settings import REDIS_URL

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


async def test_guided_course_sends_the_guided_system_prompt(tutor: Tutor) -> None:
    with http(tutor) as lecturer:
        lecturer.patch(f"/courses/{COURSE}/teaching-settings", json={"answer_mode": "guided"})
    try:
        tutor.llm.script(Reply.from_text("Coba lihat hal. 1: apa tujuan pengelolaan?"))
        ws, _ = await connect(tutor.url, user_id="g1", course_id=COURSE)
        async with ws:
            await ask(ws, "Apa itu manajemen infrastruktur TI?")
        system = tutor.llm.chat_requests[0]["messages"][0]["content"]
        assert system.startswith(GUIDED_SYSTEM.split("{")[0][:60]), json.dumps(system)[:200]
    finally:
        with http(tutor) as lecturer:
            lecturer.patch(f"/courses/{COURSE}/teaching-settings", json={"answer_mode": None})


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
